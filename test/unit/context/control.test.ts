// Pause / resume / rebuild / dispose, and cancellation in the middle of a feed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContextLog, ContextUnavailableError } from '../../../src/core/context/contextLog';
import { FakeClock } from '../../../src/core/context/fakeClock';
import { FakeEngine } from '../../../src/core/context/fakeEngine';
import { EngineError } from '../../../src/core/context/ports';
import { tableEnd } from '../../../src/core/context/table';
import { NodeFileSystem } from '../../../src/core/workspace/nodeFs';
import { assertMatchesFresh, openLog, TEST_OPTIONS, tempDir } from './helpers';
import { Gate, makeWorkspace, sourceFile, writeFile } from './workspaceGen';

function workspace(n = 12): string {
  const files: Record<string, string> = { 'README.md': '# Control\n' };
  for (let i = 0; i < n; i++) files[`src/f${i}.ts`] = sourceFile(`f${i}`, 12);
  return makeWorkspace(files);
}

const folder = (root: string) => [{ name: 'ws', path: root }];

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 5000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('pause stops the first build mid-feed; resume continues without feeding anything twice', async () => {
  const root = workspace();
  const gate = new Gate();
  const engine = new FakeEngine({ chunk: 50, beforeChunk: () => gate.wait() });
  const log = new ContextLog({ fs: new NodeFileSystem(), engine, clock: new FakeClock(), folders: folder(root) }, { ...TEST_OPTIONS, feedBatchTokens: 1000 });
  gate.close();
  const started = log.start();
  await gate.reached();
  // Let a few chunks through, then pause in the middle of a batch.
  gate.open();
  await until(() => engine.fedTokens > 120, 'some tokens');
  log.pause();
  const fedAtPause = engine.fedTokens;
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.ok(engine.fedTokens - fedAtPause <= 50, 'at most the chunk in flight finishes');
  const stopped = engine.fedTokens;
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.equal(engine.fedTokens, stopped, 'nothing is fed while paused');
  assert.equal(log.status().state, 'paused');
  log.resume();
  await started;
  assert.equal(log.status().state, 'ready');
  assert.equal(engine.fedTokens, tableEnd(log.table()!), 'every token was fed exactly once');
  // And the result is exactly a fresh build.
  const fresh = await openLog(folder(root));
  assert.deepEqual(engine.tokensOf(log.sessionId()!), fresh.engine.tokensOf(fresh.log.sessionId()!));
  await fresh.log.dispose();
  await log.dispose();
  assert.equal(engine.liveSessions, 0);
});

test('pause during an update: queries keep the old stream; events are held; resume applies them', async () => {
  const root = workspace(6);
  const gate = new Gate();
  let blockUpdates = false;
  const engine = new FakeEngine({ chunk: 20, beforeChunk: () => (blockUpdates ? gate.wait() : undefined) });
  const h = await openLog(folder(root), {}, { engine });
  const before = engine.tokensOf(h.log.sessionId()!);
  blockUpdates = true;
  gate.close();
  h.log.notify({ type: 'saved', path: writeFile(root, 'src/f1.ts', sourceFile('f1', 12, 5), Date.now()) });
  h.clock.advance(200);
  await gate.reached();
  h.log.pause();
  gate.open();
  blockUpdates = false;
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(engine.tokensOf(h.log.sessionId()!), before, 'the current stream is untouched while paused');
  const q = await h.log.forkForQuery();
  assert.equal(q.nPast, before.length);
  await q.drop();
  // Events while paused wait.
  h.log.notify({ type: 'saved', path: writeFile(root, 'src/f2.ts', sourceFile('f2', 12, 6), Date.now()) });
  h.clock.advance(5000);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(h.log.status().state, 'paused');
  assert.ok(h.log.status().pendingChanges >= 1);
  h.log.resume();
  await h.log.flush();
  assert.equal(h.log.status().pendingChanges, 0);
  await assertMatchesFresh(h);
  await h.log.dispose();
  assert.equal(engine.liveSessions, 0);
  assert.equal(engine.liveSnapshots, 0);
});

test('rebuild builds a whole fresh stream beside the old one, then swaps', async () => {
  const root = workspace(5);
  const h = await openLog(folder(root));
  const total = h.log.status().tokensInContext;
  const before = h.engine.fedTokens;
  await h.log.rebuild();
  await h.log.flush();
  const st = h.log.status();
  assert.equal(st.lastBuild!.kind, 'rebuild');
  assert.equal(st.lastBuild!.reusedTokens, 0);
  assert.equal(h.engine.fedTokens - before, total);
  await assertMatchesFresh(h);
  await h.log.dispose();
  assert.equal(h.engine.liveSessions, 0);
});

test('dispose in the middle of the first build ends cleanly and releases the engine', async () => {
  const root = workspace();
  const gate = new Gate();
  const engine = new FakeEngine({ chunk: 50, beforeChunk: () => gate.wait() });
  const log = new ContextLog({ fs: new NodeFileSystem(), engine, clock: new FakeClock(), folders: folder(root) }, TEST_OPTIONS);
  gate.close();
  const started = log.start();
  await gate.reached();
  const disposing = log.dispose();
  gate.open();
  await disposing;
  await started;
  assert.equal(log.status().state, 'disposed');
  assert.equal(engine.liveSessions, 0);
  assert.equal(engine.liveSnapshots, 0);
  await assert.rejects(log.forkForQuery());
});

test('after an engine restart the saved context is reopened', async () => {
  const root = workspace(4);
  const store = tempDir('rwkvx-store-');
  const h = await openLog(folder(root), {}, { storageDir: store });
  await h.log.save();
  const fed = h.engine.fedTokens;
  await h.log.engineRestarted();
  assert.equal(h.log.status().restore?.reused, true);
  assert.equal(h.engine.fedTokens, fed, 'reopened, not re-fed');
  await assertMatchesFresh(h);
  await h.log.dispose();
});

test('a query right after an engine restart waits for the rebuild and gets its fork', async () => {
  const root = workspace(6);
  const gate = new Gate();
  const engine = new FakeEngine({ chunk: 50, beforeChunk: () => gate.wait() });
  const h = await openLog(folder(root), { feedBatchTokens: 200 }, { engine });
  engine.restart();
  gate.close();
  const restarting = h.log.engineRestarted();
  // Asked before the rebuild has started (nothing to fork yet).
  const early = h.log.forkForQuery();
  await gate.reached();
  gate.open();
  const q = await early;
  await restarting;
  assert.ok(q.nPast > 0);
  assert.deepEqual(engine.tokensOf(q.session), engine.tokensOf(h.log.sessionId()!).subarray(0, q.nPast), 'a fork of the new stream');
  await q.drop();
  const later = await h.log.forkForQuery();
  assert.equal(later.partial, false);
  assert.equal(later.nPast, tableEnd(h.log.table()!));
  await later.drop();
  await assertMatchesFresh(h);
  await h.log.dispose();
  assert.equal(engine.liveSessions, 0);
});

test('a query right after an engine restart gets the reopened save', async () => {
  const root = workspace(4);
  const store = tempDir('rwkvx-store-');
  const h = await openLog(folder(root), {}, { storageDir: store });
  await h.log.save();
  h.engine.restart();
  const restarting = h.log.engineRestarted();
  const q = await h.log.forkForQuery();
  await restarting;
  assert.equal(h.log.status().restore?.reused, true);
  assert.equal(q.partial, false);
  assert.equal(q.nPast, tableEnd(h.log.table()!));
  await q.drop();
  await h.log.dispose();
});

test('when the rebuild after a restart fails, queries get a typed error with the reason', async () => {
  const root = workspace(4);
  const h = await openLog(folder(root));
  h.engine.restart();
  h.engine.failNextFeed = new EngineError('out-of-memory', 'no room for the state');
  const restarting = h.log.engineRestarted();
  const waiting = h.log.forkForQuery();
  await assert.rejects(restarting, /no room/);
  await assert.rejects(waiting, /no room/);
  await assert.rejects(h.log.forkForQuery(), (e: unknown) => e instanceof ContextUnavailableError && e.reason === 'failed' && /no room/.test(e.message));
  assert.equal(h.log.status().state, 'error');
  await h.log.dispose();
  await assert.rejects(h.log.forkForQuery(), (e: unknown) => e instanceof ContextUnavailableError && e.reason === 'disposed');
});

test('a query waiting for a stream is told when the context is disposed', async () => {
  const root = workspace(4);
  const engine = new FakeEngine();
  const log = new ContextLog({ fs: new NodeFileSystem(), engine, clock: new FakeClock(), folders: folder(root) }, TEST_OPTIONS);
  const waiting = log.forkForQuery(); // start() not called yet
  await log.dispose();
  await assert.rejects(waiting, (e: unknown) => e instanceof ContextUnavailableError && e.reason === 'disposed');
});
