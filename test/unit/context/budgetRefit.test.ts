// A saved context reopened under another budget is fitted to it: the stream
// becomes exactly what a fresh build makes for that budget and the current
// files (whatever the save's history), reusing the prefix the two share.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ContextOptions } from '../../../src/core/context/contextLog';
import { FakeEngine } from '../../../src/core/context/fakeEngine';
import { MANIFEST } from '../../../src/core/context/persistence';
import { tableEnd } from '../../../src/core/context/table';
import { openLog, tempDir, type Harness } from './helpers';
import { makeWorkspace, sourceFile, writeFile } from './workspaceGen';

const BASE_MTIME = Date.UTC(2025, 0, 1);

/** Ten files with distinct, fixed times, so order and eviction do not depend on when the test ran. */
function workspace(): string {
  const root = makeWorkspace({ 'README.md': '# Budget\nTen small modules.\n' });
  'abcdefghij'.split('').forEach((n, i) => writeFile(root, `src/${n}.ts`, sourceFile(n, 8), BASE_MTIME + i * 60_000));
  return root;
}

const folder = (root: string) => [{ name: 'ws', path: root }];
const opts = (budgetTokens: number): ContextOptions => ({ budgetTokens, recentEdits: ['src/j.ts'], maxColdCheckpoints: 64, minCheckpointSpacing: 1 });

async function open(root: string, budget: number, store?: string): Promise<Harness> {
  return openLog(folder(root), opts(budget), { storageDir: store, engine: new FakeEngine() });
}

async function saved(root: string, budget: number): Promise<{ store: string; total: number }> {
  const store = tempDir('rwkvx-store-');
  const h = await open(root, budget, store);
  const total = tableEnd(h.log.table()!);
  await h.log.dispose(); // saves
  return { store, total };
}

/** The stream and what was left out must be those of a fresh build under `budget` (same files, same recent edits). */
async function assertIsFreshBuild(h: Harness, root: string, budget: number): Promise<void> {
  const fresh = await openLog(folder(root), { ...opts(budget), recentEdits: [...h.log.recent()] }, { engine: new FakeEngine() });
  assert.deepEqual(h.engine.tokensOf(h.log.sessionId()!), fresh.engine.tokensOf(fresh.log.sessionId()!), 'same tokens as a fresh build');
  assert.deepEqual([...h.log.table()!.leftOut.keys()].sort(), [...fresh.log.table()!.leftOut.keys()].sort(), 'same files left out');
  await fresh.log.dispose();
}

test('budget refit: a save reopened under a smaller budget leaves out what a fresh build would, reusing the shared prefix', async () => {
  const root = workspace();
  const { store, total } = await saved(root, 100_000);
  const small = Math.floor(total * 0.8);
  const h = await open(root, small, store);
  const st = h.log.status();
  assert.equal(st.restore?.reused, true);
  assert.match(st.restore?.refit ?? '', new RegExp(`budget of 100000 tokens, now ${small}`));
  assert.ok(st.filesLeftOut > 0);
  assert.ok(tableEnd(h.log.table()!) <= small);
  await assertIsFreshBuild(h, root, small);
  assert.ok(h.engine.fedTokens < tableEnd(h.log.table()!), 'the prefix before the first file left out was not fed again');
  assert.equal(h.engine.fedTokens, st.restore?.catchUpTokens);
  await h.log.dispose();

  // Saved again under the small budget: reopening under it uses the save as it is.
  const again = await open(root, small, store);
  assert.equal(again.log.status().restore?.reused, true);
  assert.equal(again.log.status().restore?.refit, undefined);
  assert.equal(again.engine.fedTokens, 0);
  await again.log.dispose();
});

test('budget refit: the result does not depend on the save’s history (edits, stale copies)', async () => {
  const root = workspace();
  const store = tempDir('rwkvx-store-');
  const h = await open(root, 100_000, store);
  // Cold edits leave stale copies and updated segments in the saved stream.
  for (const n of ['b', 'd']) {
    h.log.notify({ type: 'saved', path: writeFile(root, `src/${n}.ts`, sourceFile(n, 9, 5), BASE_MTIME + 3_600_000) });
    await h.log.flush();
  }
  assert.ok(h.log.status().staleTokens > 0);
  const total = tableEnd(h.log.table()!);
  await h.log.dispose();
  const small = Math.floor(total * 0.6);
  const reopened = await open(root, small, store);
  assert.ok(reopened.log.status().restore?.refit);
  assert.equal(reopened.log.status().staleTokens, 0);
  await assertIsFreshBuild(reopened, root, small);
  await reopened.log.dispose();
});

test('budget refit: under a larger budget the files the old one left out come back', async () => {
  const root = workspace();
  const first = await open(root, 100_000);
  const total = tableEnd(first.log.table()!);
  await first.log.dispose();
  const { store } = await saved(root, Math.floor(total * 0.7));
  const h = await open(root, 100_000, store);
  assert.ok(h.log.status().restore?.refit);
  assert.equal(h.log.status().filesLeftOut, 0);
  await assertIsFreshBuild(h, root, 100_000);
  await h.log.dispose();
});

test('budget refit: a smaller budget the save still fits, or a larger one with nothing left out, changes nothing', async () => {
  const root = workspace();
  const { store, total } = await saved(root, 100_000);
  const roomy = Math.ceil(total / 0.9) + 10;
  const h = await open(root, roomy, store);
  assert.equal(h.log.status().restore?.refit, undefined);
  assert.equal(h.engine.fedTokens, 0);
  await h.log.dispose();
  const bigger = await open(root, 200_000, store);
  assert.equal(bigger.log.status().restore?.refit, undefined);
  assert.equal(bigger.engine.fedTokens, 0);
  await bigger.log.dispose();
});

test('budget refit: a save that does not record its budget is refitted only when it is over the budget', async () => {
  const root = workspace();
  const { store, total } = await saved(root, 100_000);
  const file = path.join(store, MANIFEST);
  const m = JSON.parse(readFileSync(file, 'utf8'));
  delete m.budgetTokens;
  writeFileSync(file, JSON.stringify(m));
  const fits = await open(root, total + 1, store);
  assert.equal(fits.log.status().restore?.refit, undefined);
  assert.equal(fits.engine.fedTokens, 0);
  await fits.log.dispose({ save: false });
  const small = Math.floor(total * 0.8);
  const over = await open(root, small, store);
  assert.match(over.log.status().restore?.refit ?? '', /over the budget/);
  await assertIsFreshBuild(over, root, small);
  await over.log.dispose();
});
