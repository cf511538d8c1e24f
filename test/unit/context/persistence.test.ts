import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { FakeEngine } from '../../../src/core/context/fakeEngine';
import { FORMAT_VERSION, MANIFEST } from '../../../src/core/context/persistence';
import { assertMatchesFresh, openLog, tempDir, type Harness } from './helpers';
import { makeWorkspace, removeFile, sourceFile, writeFile } from './workspaceGen';

function workspace(): string {
  const files: Record<string, string> = { 'README.md': '# Saved\n', 'package.json': '{}\n' };
  for (const n of ['a', 'b', 'c', 'd', 'e']) files[`src/${n}.ts`] = sourceFile(n, 8);
  return makeWorkspace(files);
}

const folder = (root: string) => [{ name: 'ws', path: root }];
const OPTS = { recentEdits: ['src/e.ts'] };

async function savedContext(): Promise<{ root: string; store: string; tokens: Int32Array }> {
  const root = workspace();
  const store = tempDir('rwkvx-store-');
  const h = await openLog(folder(root), OPTS, { storageDir: store });
  const tokens = h.engine.tokensOf(h.log.sessionId()!);
  await h.log.dispose(); // saves
  return { root, store, tokens };
}

async function reopen(root: string, store: string, engine = new FakeEngine()): Promise<Harness> {
  return openLog(folder(root), OPTS, { storageDir: store, engine });
}

test('persistence: reopening reuses the session; nothing is fed again; hot edits still rewind', async () => {
  const { root, store, tokens } = await savedContext();
  assert.ok(readdirSync(store).includes(MANIFEST));
  const h = await reopen(root, store);
  assert.deepEqual(h.log.status().restore?.reused, true);
  assert.equal(h.engine.fedTokens, 0, 'no token read again');
  assert.equal(h.engine.tokenizeCalls, 0, 'no file tokenized again');
  assert.deepEqual(h.engine.tokensOf(h.log.sessionId()!), tokens);
  // The checkpoints came back: editing the hot file rewinds to it.
  const before = h.engine.fedTokens;
  h.log.notify({ type: 'saved', path: writeFile(root, 'src/e.ts', sourceFile('e', 9, 1), Date.now()) });
  await h.log.flush();
  const table = h.log.table()!;
  assert.equal(h.log.status().lastUpdate!.rewound, 1);
  assert.equal(h.engine.fedTokens - before, table.segs[table.segs.length - 1].tokens);
  await assertMatchesFresh(h);
  await h.log.dispose();
});

test('persistence: what changed while closed is fed, and only that', async () => {
  const { root, store } = await savedContext();
  writeFile(root, 'src/b.ts', sourceFile('b', 8, 3), Date.now());
  removeFile(root, 'src/c.ts');
  writeFile(root, 'src/new.ts', sourceFile('new', 2), Date.now());
  const h = await reopen(root, store);
  assert.equal(h.log.status().restore?.reused, true);
  const table = h.log.table()!;
  const appended = table.segs.filter((s) => s.header === 'updated' || s.header === 'deleted' || s.path === 'src/new.ts');
  assert.equal(h.engine.fedTokens, appended.reduce((n, s) => n + s.tokens, 0));
  await assertMatchesFresh(h);
  await h.log.dispose();
});

test('persistence: a save after updates round-trips the new table', async () => {
  const { root, store } = await savedContext();
  const h = await reopen(root, store);
  h.log.notify({ type: 'saved', path: writeFile(root, 'src/a.ts', sourceFile('a', 3, 9), Date.now()) });
  await h.log.flush();
  await h.log.save();
  const tokens = h.engine.tokensOf(h.log.sessionId()!);
  await h.log.dispose({ save: false });
  const h2 = await reopen(root, store);
  assert.equal(h2.engine.fedTokens, 0);
  assert.deepEqual(h2.engine.tokensOf(h2.log.sessionId()!), tokens);
  assert.ok(h2.log.status().staleTokens > 0, 'stale copies are part of the saved stream');
  await assertMatchesFresh(h2);
  await h2.log.dispose();
  // Old blobs are gone: one manifest, one session, the checkpoints it names.
  const manifest = JSON.parse(readFileSync(path.join(store, MANIFEST), 'utf8'));
  const named = new Set([MANIFEST, manifest.session.name, ...manifest.ckpts.map((c: { blob: { name: string } }) => c.blob.name)]);
  assert.deepEqual(readdirSync(store).filter((n) => !named.has(n)), []);
});

async function expectRebuild(root: string, store: string, reason: RegExp, engine?: FakeEngine): Promise<void> {
  const h = await reopen(root, store, engine);
  const st = h.log.status();
  assert.equal(st.state, 'ready');
  assert.equal(st.restore?.reused, false);
  assert.match(st.restore?.reason ?? '', reason);
  assert.equal(h.engine.fedTokens, st.tokensInContext, 'rebuilt from scratch');
  await assertMatchesFresh(h, OPTS);
  await h.log.dispose();
  // The rebuild was saved over the damage: the next open reuses it.
  const h2 = await reopen(root, store, engine ? new FakeEngine({ fingerprint: 'other-model' }) : undefined);
  assert.equal(h2.log.status().restore?.reused, true);
  await h2.log.dispose();
}

test('persistence: a manifest cut short (partial write) rebuilds', async () => {
  const { root, store } = await savedContext();
  const m = readFileSync(path.join(store, MANIFEST));
  writeFileSync(path.join(store, MANIFEST), m.subarray(0, Math.floor(m.length / 2)));
  await expectRebuild(root, store, /not valid JSON/);
});

test('persistence: a damaged or missing blob rebuilds', async () => {
  const { root, store } = await savedContext();
  const manifest = JSON.parse(readFileSync(path.join(store, MANIFEST), 'utf8'));
  const s = path.join(store, manifest.session.name);
  const bytes = readFileSync(s);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(s, bytes);
  await expectRebuild(root, store, /damaged/);

  const again = await savedContext();
  const m2 = JSON.parse(readFileSync(path.join(again.store, MANIFEST), 'utf8'));
  removeFile(again.store, m2.ckpts[0].blob.name);
  await expectRebuild(again.root, again.store, /missing/);
});

test('persistence: bytes the engine refuses (hash recorded but state corrupt) rebuild', async () => {
  const { root, store } = await savedContext();
  const manifest = JSON.parse(readFileSync(path.join(store, MANIFEST), 'utf8'));
  const name = manifest.session.name;
  const bytes = readFileSync(path.join(store, name));
  bytes[20] ^= 0x01;
  writeFileSync(path.join(store, name), bytes);
  // Re-sign the blob so only the engine's own check can catch it.
  const { createHash } = await import('node:crypto');
  manifest.session.sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(store, MANIFEST), JSON.stringify(manifest));
  await expectRebuild(root, store, /engine refused/);
});

test('persistence: another format version, another model or a table that does not add up rebuild', async () => {
  const { root, store } = await savedContext();
  const file = path.join(store, MANIFEST);
  const original = readFileSync(file, 'utf8');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(original), version: FORMAT_VERSION + 1 }));
  await expectRebuild(root, store, /format version/);

  const other = await savedContext();
  await expectRebuild(other.root, other.store, /another model/, new FakeEngine({ fingerprint: 'other-model' }));

  const third = await savedContext();
  const m = JSON.parse(readFileSync(path.join(third.store, MANIFEST), 'utf8'));
  m.segs[2].tokens += 1;
  writeFileSync(path.join(third.store, MANIFEST), JSON.stringify(m));
  await expectRebuild(third.root, third.store, /gaps|session length/);
});

test('persistence: a crash between writing blobs and the manifest leaves the old save usable', async () => {
  const { root, store, tokens } = await savedContext();
  // What a crash leaves: new blobs without a manifest naming them, and a temp file.
  writeFileSync(path.join(store, 'session-0123456789abcdef01234567.bin'), Buffer.from('half written'));
  writeFileSync(path.join(store, '.context.json.123.tmp'), Buffer.from('{"format":'));
  const h = await reopen(root, store);
  assert.equal(h.log.status().restore?.reused, true);
  assert.deepEqual(h.engine.tokensOf(h.log.sessionId()!), tokens);
  await h.log.save();
  assert.ok(!readdirSync(store).includes('session-0123456789abcdef01234567.bin'), 'orphans are removed by the next save');
  await h.log.dispose();
});
