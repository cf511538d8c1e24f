import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { FakeEngine } from '../../../src/core/context/fakeEngine';
import { EngineError } from '../../../src/core/context/ports';
import type { ProgressEvent } from '../../../src/core/context/progress';
import { staleTokens, tableEnd } from '../../../src/core/context/table';
import { assertMatchesFresh, decodeStream, openLog, type Harness } from './helpers';
import { Gate, makeWorkspace, removeFile, sourceFile, writeFile } from './workspaceGen';

function sixFiles(): string {
  const files: Record<string, string> = { 'package.json': '{ "name": "six" }\n', 'README.md': '# Six\n' };
  for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) files[`src/${n}.ts`] = sourceFile(n, 6);
  return makeWorkspace(files);
}

const folder = (root: string) => [{ name: 'ws', path: root }];
const last = (h: Harness) => h.log.table()!.segs[h.log.table()!.segs.length - 1];

async function edit(h: Harness, root: string, rel: string, text: string): Promise<number> {
  const before = h.engine.fedTokens;
  const p = writeFile(root, rel, text, Date.now());
  h.log.notify({ type: 'saved', path: p });
  await h.log.flush();
  return h.engine.fedTokens - before;
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('first build: cold → hot order, progress events, status and report', async () => {
  const root = sixFiles();
  const events: ProgressEvent[] = [];
  const engine = new FakeEngine();
  const h = await openLog(folder(root), { recentEdits: ['src/c.ts'], feedBatchTokens: 200 }, { engine });
  h.log.onProgress((e) => events.push(e));
  const paths = decodeStream(h).map((d) => d.path);
  assert.deepEqual(paths, ['', 'README.md', 'package.json', 'src/a.ts', 'src/b.ts', 'src/d.ts', 'src/e.ts', 'src/f.ts', 'src/c.ts']);
  const st = h.log.status();
  assert.equal(st.state, 'ready');
  assert.equal(st.files, 8);
  assert.equal(st.tokensInContext, engine.fedTokens, 'the first build feeds each token once');
  assert.equal(st.staleShare, 0);
  assert.equal(st.filesLeftOut, 0);
  assert.equal(h.log.table()!.segs[h.log.table()!.hotStart].path, 'src/c.ts', 'the recent edit is the hot tail');
  assert.equal(h.log.report().included.length, 8);
  await h.log.dispose();

  // Progress of a build as a listener sees it from the start.
  const h2engine = new FakeEngine();
  const seen: ProgressEvent[] = [];
  const { ContextLog } = await import('../../../src/core/context/contextLog');
  const { NodeFileSystem } = await import('../../../src/core/workspace/nodeFs');
  const { FakeClock } = await import('../../../src/core/context/fakeClock');
  const log = new ContextLog({ fs: new NodeFileSystem(), engine: h2engine, clock: new FakeClock(), folders: folder(root) }, { outliner: null, feedBatchTokens: 200 });
  log.onProgress((e) => seen.push(e));
  await log.start();
  const build = seen.filter((e) => e.phase === 'build');
  assert.ok(build.length >= 2);
  const done = build[build.length - 1];
  assert.ok(done.done);
  assert.equal(done.tokensDone, done.tokensTotal);
  assert.equal(done.filesTotal, 8);
  assert.equal(done.secondsLeft, 0);
  assert.ok(seen.some((e) => e.phase === 'tokenize'));
  await log.dispose();
  assert.equal(events.length, 0, 'no events after subscribing late to a finished build');
});

test('edit policy end to end: hot edits rewind, cold edits append, the stream stays a fresh stream', async () => {
  const root = sixFiles();
  const h = await openLog(folder(root), { recentEdits: ['src/e.ts', 'src/f.ts'], rewindSlack: Infinity });
  const t0 = h.log.table()!;
  assert.deepEqual(t0.segs.slice(t0.hotStart).map((s) => s.path), ['src/e.ts', 'src/f.ts']);

  // The last file of the tail: only its new version is fed.
  let fed = await edit(h, root, 'src/f.ts', sourceFile('f', 7, 1));
  assert.equal(fed, last(h).tokens);
  assert.deepEqual({ ...h.log.status().lastUpdate, ms: 0 }, { files: 1, refedTokens: 0, newTokens: last(h).tokens, rewound: 1, staled: 0, ms: 0 });
  assert.equal(last(h).header, 'file', 'no older copy remains, so it is not an update');
  await assertMatchesFresh(h);

  // A hot file that is not last: what followed is fed again, then the new version.
  const fTokens = last(h).tokens;
  fed = await edit(h, root, 'src/e.ts', sourceFile('e', 8, 2));
  assert.equal(h.log.status().lastUpdate!.refedTokens, fTokens);
  assert.equal(fed, fTokens + last(h).tokens);
  assert.equal(last(h).path, 'src/e.ts', 'the edited file goes last');
  await assertMatchesFresh(h);

  // A cold file: the old copy goes stale, the new one is appended.
  fed = await edit(h, root, 'src/a.ts', sourceFile('a', 6, 3));
  assert.equal(fed, last(h).tokens);
  assert.equal(last(h).header, 'updated');
  assert.equal(h.log.status().lastUpdate!.staled, 1);
  assert.ok(h.log.table()!.segs.find((s) => s.path === 'src/a.ts')!.stale);
  assert.ok(h.log.status().staleTokens > 0);
  await assertMatchesFresh(h);

  // Editing the appended copy again is a hot edit now.
  fed = await edit(h, root, 'src/a.ts', sourceFile('a', 6, 4));
  assert.equal(fed, last(h).tokens);
  assert.equal(h.log.status().lastUpdate!.rewound, 1);
  await assertMatchesFresh(h);
  await h.log.dispose();
});

test('edit policy: by default a hot file that others follow is appended, so an edit costs its own tokens', async () => {
  const root = sixFiles();
  const h = await openLog(folder(root), { recentEdits: ['src/e.ts', 'src/f.ts'] });
  const fed = await edit(h, root, 'src/e.ts', sourceFile('e', 8, 2));
  assert.equal(fed, last(h).tokens, 'f.ts was not fed again');
  assert.equal(h.log.status().lastUpdate!.staled, 1);
  assert.equal(last(h).header, 'updated');
  await assertMatchesFresh(h);
  // Now e.ts ends the tail: editing it again rewinds.
  const again = await edit(h, root, 'src/e.ts', sourceFile('e', 9, 3));
  assert.equal(again, last(h).tokens);
  assert.equal(h.log.status().lastUpdate!.rewound, 1);
  await assertMatchesFresh(h);
  await h.log.dispose();
});

test('creates, deletes, renames and folders', async () => {
  const root = sixFiles();
  const h = await openLog(folder(root), { recentEdits: ['src/f.ts'] });
  h.log.notify({ type: 'created', path: writeFile(root, 'src/g.ts', sourceFile('g', 3)) });
  h.log.notify({ type: 'deleted', path: removeFile(root, 'src/b.ts') });
  await h.log.flush();
  const kinds = decodeStream(h).slice(-2).map((d) => `${d.kind}:${d.path}`);
  assert.deepEqual(kinds.sort(), ['deleted:src/b.ts', 'file:src/g.ts']);
  await assertMatchesFresh(h);

  // Rename of a hot file: the old name is rewound away (or, with files after
  // it, noted as deleted); the new name is appended.
  const { renameSync } = await import('node:fs');
  renameSync(path.join(root, 'src/f.ts'), path.join(root, 'src/f2.ts'));
  h.log.notify({ type: 'renamed', from: path.join(root, 'src/f.ts'), to: path.join(root, 'src/f2.ts') });
  await h.log.flush();
  const fMentions = decodeStream(h).filter((d) => d.path === 'src/f.ts');
  assert.ok(fMentions.length === 0 || fMentions[fMentions.length - 1].kind === 'deleted');
  assert.equal(last(h).path, 'src/f2.ts');
  await assertMatchesFresh(h);

  // A folder appears (one event for the folder), then goes.
  writeFile(root, 'lib/x.ts', sourceFile('x', 2));
  writeFile(root, 'lib/y.ts', sourceFile('y', 2));
  h.log.notify({ type: 'created', path: path.join(root, 'lib') });
  await h.log.flush();
  assert.deepEqual(h.log.report().included.filter((f) => f.path.startsWith('lib/')).map((f) => f.path).sort(), ['lib/x.ts', 'lib/y.ts']);
  await assertMatchesFresh(h);
  removeFile(root, 'lib');
  h.log.notify({ type: 'deleted', path: path.join(root, 'lib') });
  await h.log.flush();
  assert.ok(!h.log.report().included.some((f) => f.path.startsWith('lib/')));
  await assertMatchesFresh(h);
  // A file that becomes a secret leaves the context.
  h.log.notify({ type: 'created', path: writeFile(root, 'src/.env', 'TOKEN=placeholder\n') });
  await h.log.flush();
  assert.ok(h.log.report().skipped.some((s) => s.path === 'src/.env' && s.reason === 'secret'));
  await assertMatchesFresh(h);
  await h.log.dispose();
});

test('unsaved text is debounced and wins over the disk until saved or discarded', async () => {
  const root = sixFiles();
  const h = await openLog(folder(root));
  let updates = 0;
  h.log.onStatus((s) => { if (s.state === 'updating') updates++; });
  const p = path.join(root, 'src/d.ts');
  h.log.notify({ type: 'changed', path: p, text: 'export const d = 1; // typing\n' });
  h.clock.advance(300);
  h.log.notify({ type: 'changed', path: p, text: 'export const d = 2; // typed\n' });
  h.clock.advance(400);
  await new Promise((r) => setImmediate(r));
  assert.equal(updates, 0, 'still typing: nothing applied');
  h.clock.advance(200);
  await h.log.flush();
  assert.equal(updates, 1);
  assert.equal(decodeStream(h).filter((d) => !d.stale && d.path === 'src/d.ts')[0].body, 'export const d = 2; // typed\n');
  h.log.notify({ type: 'discarded', path: p });
  await h.log.flush();
  assert.equal(decodeStream(h).filter((d) => !d.stale && d.path === 'src/d.ts')[0].body, sourceFile('d', 6));
  await assertMatchesFresh(h);
  await h.log.dispose();
});

test('a burst of events becomes one update; long typing still updates every maxWait', async () => {
  const root = sixFiles();
  const h = await openLog(folder(root));
  let updates = 0;
  h.log.onStatus((s) => { if (s.state === 'updating') updates++; });
  // A formatter touches every file within a short window.
  for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) {
    h.log.notify({ type: 'saved', path: writeFile(root, `src/${n}.ts`, sourceFile(n, 6, 9), Date.now()) });
    h.clock.advance(20);
  }
  h.clock.advance(100);
  await h.log.flush();
  assert.equal(updates, 1);
  assert.equal(h.log.status().lastUpdate!.files, 6);
  await assertMatchesFresh(h);
  // Typing without a pause: the debounce would never fire, maxWait makes it.
  updates = 0;
  const p = path.join(root, 'src/a.ts');
  for (let i = 0; i < 12; i++) {
    h.log.notify({ type: 'changed', path: p, text: `export const a = ${i};\n` });
    h.clock.advance(250);
    await new Promise((r) => setImmediate(r));
  }
  await h.log.flush();
  assert.ok(updates >= 2, `updates while typing: ${updates}`);
  await h.log.dispose();
});

test('queries fork the current stream at once, even while an update runs', async () => {
  const root = sixFiles();
  const gate = new Gate();
  const engine = new FakeEngine({ beforeChunk: () => gate.wait(), chunk: 64 });
  const h = await openLog(folder(root), { feedBatchTokens: 128 }, { engine });
  const total = tableEnd(h.log.table()!);

  // Block the next update in its feed.
  gate.close();
  h.log.notify({ type: 'saved', path: writeFile(root, 'src/a.ts', sourceFile('a', 9, 5), Date.now()) });
  const flushing = h.log.flush();
  await gate.reached();
  const q = await h.log.forkForQuery();
  assert.equal(q.partial, false);
  assert.equal(q.nPast, total, 'the fork holds the stream from before the update');
  assert.deepEqual(engine.tokensOf(q.session), engine.tokensOf(h.log.sessionId()!));
  gate.open();
  await flushing;
  assert.ok(tableEnd(h.log.table()!) > total);
  assert.equal(engine.tokensOf(q.session).length, total, 'the fork is independent of the update');
  await q.drop();
  await h.log.dispose();
  assert.equal(engine.liveSessions, 0, 'every session was dropped');
  assert.equal(engine.liveSnapshots, 0, 'every snapshot was dropped');
});

test('a query during the first build gets a partial fork after one batch', async () => {
  const root = sixFiles();
  const gate = new Gate();
  const engine = new FakeEngine({ beforeChunk: () => gate.wait(), chunk: 64 });
  const { ContextLog } = await import('../../../src/core/context/contextLog');
  const { NodeFileSystem } = await import('../../../src/core/workspace/nodeFs');
  const { FakeClock } = await import('../../../src/core/context/fakeClock');
  const log = new ContextLog({ fs: new NodeFileSystem(), engine, clock: new FakeClock(), folders: folder(root) }, { outliner: null, feedBatchTokens: 128 });
  gate.close();
  const starting = log.start();
  await gate.reached();
  const forkP = log.forkForQuery();
  gate.open();
  const q = await forkP;
  await starting;
  assert.equal(q.partial, true);
  assert.ok(q.nPast > 0 && q.nPast < tableEnd(log.table()!));
  assert.deepEqual(engine.tokensOf(q.session), engine.tokensOf(log.sessionId()!).subarray(0, q.nPast));
  await q.drop();
  await log.dispose();
});

test('compaction: a fresh stream replaces the stale one, reusing the unchanged prefix', async () => {
  const root = sixFiles();
  const h = await openLog(folder(root), { recentEdits: ['src/f.ts'], maxColdCheckpoints: 64, minCheckpointSpacing: 1 });
  await edit(h, root, 'src/c.ts', sourceFile('c', 6, 7));
  await edit(h, root, 'src/d.ts', sourceFile('d', 6, 7));
  assert.equal(h.log.status().staleTokens > 0, true);
  const before = h.engine.fedTokens;
  await h.log.compactNow();
  await h.log.flush();
  const st = h.log.status();
  assert.equal(st.staleTokens, 0);
  assert.equal(st.lastBuild!.kind, 'compact');
  // c.ts and d.ts moved to the hot tail; everything before the first stale copy is taken over.
  const segs = h.log.table()!.segs;
  assert.deepEqual(segs.slice(0, 6).map((s) => s.path), ['', 'README.md', 'package.json', 'src/a.ts', 'src/b.ts', 'src/e.ts']);
  assert.equal(st.lastBuild!.reusedTokens, segs[5].start, 'everything before the first change is reused');
  assert.equal(h.engine.fedTokens - before, st.lastBuild!.fedTokens);
  assert.equal(st.lastBuild!.reusedTokens + st.lastBuild!.fedTokens, st.tokensInContext);
  // Token for token the stream a fresh build makes.
  const fresh = await openLog(folder(root), { recentEdits: [...h.log.recent()], maxColdCheckpoints: 64, minCheckpointSpacing: 1 }, { clock: h.clock });
  assert.deepEqual(h.engine.tokensOf(h.log.sessionId()!), fresh.engine.tokensOf(fresh.log.sessionId()!));
  await fresh.log.dispose();
  await h.log.dispose();
  assert.equal(h.engine.liveSessions, 0);
  assert.equal(h.engine.liveSnapshots, 0);
});

test('compaction runs in the background: updates keep applying and are carried over at the swap', async () => {
  const root = sixFiles();
  const gate = new Gate();
  let blocked: string | undefined;
  let blockNext = false;
  const engine = new FakeEngine({
    chunk: 64,
    beforeChunk: (s) => {
      if (blockNext) { blockNext = false; blocked = s; }
      return s === blocked ? gate.wait() : undefined;
    },
  });
  const h = await openLog(folder(root), {}, { engine });
  await edit(h, root, 'src/b.ts', sourceFile('b', 6, 1));
  gate.close();
  blockNext = true;
  const compacting = h.log.compactNow();
  await gate.reached();
  assert.equal(h.log.status().compacting, true);
  // While the compaction is held, an edit applies to the current stream.
  h.log.notify({ type: 'saved', path: writeFile(root, 'src/e.ts', sourceFile('e', 6, 11), Date.now()) });
  h.clock.advance(200);
  await waitFor(() => decodeStream(h).some((d) => d.path === 'src/e.ts' && d.kind === 'updated'), 'the update');
  const q = await h.log.forkForQuery();
  assert.ok(h.engine.textOf(q.session).includes(sourceFile('e', 6, 11)), 'queries see the edit before the compaction ends');
  await q.drop();
  gate.open();
  await compacting;
  await h.log.flush();
  assert.equal(h.log.status().compacting, false);
  await assertMatchesFresh(h);
  await h.log.dispose();
  assert.equal(engine.liveSessions, 0);
  assert.equal(engine.liveSnapshots, 0);
});

test('compaction starts by itself past the stale threshold and when idle', async () => {
  const root = sixFiles();
  const h = await openLog(folder(root), { staleThreshold: 0.05 });
  await edit(h, root, 'src/a.ts', sourceFile('a', 6, 1));
  await edit(h, root, 'src/b.ts', sourceFile('b', 6, 1));
  assert.equal(h.log.status().staleTokens, 0, 'past the threshold: compacted');
  assert.equal(h.log.status().lastBuild!.kind, 'compact');
  await h.log.dispose();

  const h2 = await openLog(folder(root), { idleCompactMs: 30_000 });
  await edit(h2, root, 'src/c.ts', sourceFile('c', 6, 1));
  assert.ok(h2.log.status().staleTokens > 0);
  h2.clock.advance(29_000);
  await h2.log.flush();
  assert.ok(h2.log.status().staleTokens > 0, 'not idle long enough');
  h2.clock.advance(1_000);
  await h2.log.flush();
  assert.equal(h2.log.status().staleTokens, 0, 'compacted when idle');
  await assertMatchesFresh(h2);
  await h2.log.dispose();
});

test('budget: the coldest files are left out and reported; an edited one comes back', async () => {
  const files: Record<string, string> = { 'README.md': '# Budget\n' };
  const root = makeWorkspace(files);
  const day = 24 * 3600_000;
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  names.forEach((n, i) => writeFile(root, `src/${n}.ts`, sourceFile(n, 10), Date.now() - (100 - i) * day));
  const full = await openLog(folder(root));
  const total = full.log.status().tokensInContext;
  await full.log.dispose();
  const budget = Math.floor(total * 0.7);
  const opts = { budgetTokens: budget, reserveShare: 0.1 };
  const h = await openLog(folder(root), opts);
  const st = h.log.status();
  assert.ok(st.tokensInContext <= budget * 0.9);
  assert.ok(st.filesLeftOut >= 2);
  const left = h.log.report().leftOut;
  // Oldest mtimes go first; the README (overview) stays.
  assert.deepEqual(left, names.slice(0, left.length).map((n) => `src/${n}.ts`));
  assert.ok(decodeStream(h).some((d) => d.path === 'README.md'));
  // Editing a left-out file brings it in: it is the hottest file now.
  await edit(h, root, 'src/a.ts', sourceFile('a', 10, 3));
  assert.ok(!h.log.report().leftOut.includes('src/a.ts'));
  assert.ok(decodeStream(h).some((d) => d.path === 'src/a.ts' && !d.stale));
  assert.ok(h.log.status().tokensInContext <= budget, 'updates may use the reserve, never more');
  // A compaction leaves out the coldest again, within the reserve: then it is a fresh stream.
  await h.log.compactNow();
  await h.log.flush();
  assert.ok(h.log.status().tokensInContext <= budget * 0.9);
  assert.ok(!h.log.report().leftOut.includes('src/a.ts'));
  await assertMatchesFresh(h, opts);
  await h.log.dispose();
});

test('a changed .gitignore rescans: newly ignored files leave, newly included ones come', async () => {
  const root = sixFiles();
  writeFile(root, 'notes.log', 'log\n');
  writeFile(root, '.gitignore', '*.log\n');
  const h = await openLog(folder(root));
  assert.ok(!decodeStream(h).some((d) => d.path === 'notes.log'));
  h.log.notify({ type: 'saved', path: writeFile(root, '.gitignore', 'src/b.ts\n', Date.now()) });
  await h.log.flush();
  const live = decodeStream(h).filter((d) => !d.stale && d.kind === 'file').map((d) => d.path);
  assert.ok(!live.includes('src/b.ts'));
  assert.ok(live.includes('notes.log'));
  await assertMatchesFresh(h);
  // files.exclude through the settings event.
  h.log.notify({ type: 'settings', folders: [{ name: 'ws', path: root, filesExclude: { '**/*.md': true } }] });
  await h.log.flush();
  assert.ok(!decodeStream(h).some((d) => d.path === 'README.md' && !d.stale));
  await h.log.dispose();
});

test('huge files: a cold edit appends only the part that changed', async () => {
  const sections = Array.from({ length: 300 }, (_, i) => `Section ${i}\n  body of section ${i}, with some words to fill the line\n`);
  const root = makeWorkspace({ 'README.md': '# Huge\n', 'docs/big.md': sections.join('\n') });
  const h = await openLog(folder(root), { split: { splitAboveBytes: 8192, targetPartBytes: 4096, maxPartBytes: 8192 } });
  const parts = h.log.table()!.segs.filter((s) => s.path === 'docs/big.md');
  assert.ok(parts.length >= 3);
  const edited = [...sections];
  edited[150] = 'Section 150\n  body rewritten\n';
  const fed = await edit(h, root, 'docs/big.md', edited.join('\n'));
  const tail = last(h);
  assert.equal(tail.path, 'docs/big.md');
  assert.equal(tail.header, 'updated');
  assert.ok(tail.part > 0);
  assert.equal(fed, tail.tokens, 'only one part was fed');
  assert.ok(fed < tableEnd(h.log.table()!) / 3);
  await assertMatchesFresh(h, { split: { splitAboveBytes: 8192, targetPartBytes: 4096, maxPartBytes: 8192 } });
  await h.log.dispose();
});

test('an engine failure during an update leaves the current stream intact and rebuilds', async () => {
  const root = sixFiles();
  const h = await openLog(folder(root));
  const before = h.engine.tokensOf(h.log.sessionId()!);
  h.engine.failNextFeed = new EngineError('device', 'simulated device failure');
  const p = writeFile(root, 'src/a.ts', sourceFile('a', 6, 2), Date.now());
  h.log.notify({ type: 'saved', path: p });
  await h.log.flush();
  assert.notDeepEqual(h.engine.tokensOf(h.log.sessionId()!), before);
  assert.equal(staleTokens(h.log.table()!), 0, 'the rebuild carries the change');
  await assertMatchesFresh(h);
  await h.log.dispose();
  assert.equal(h.engine.liveSessions, 0);
});

test('budget: after a big file goes, smaller cold files that still fit come back', async () => {
  const root = makeWorkspace({ 'README.md': '# Fill\n' });
  const day = 24 * 3600_000;
  writeFile(root, 'src/old1.ts', sourceFile('old1', 3), Date.now() - 300 * day);
  writeFile(root, 'src/old2.ts', sourceFile('old2', 3), Date.now() - 200 * day);
  writeFile(root, 'src/big.ts', sourceFile('big', 120), Date.now() - 100 * day);
  for (const n of ['a', 'b', 'c']) writeFile(root, `src/${n}.ts`, sourceFile(n, 10), Date.now() - 10 * day);
  const full = await openLog(folder(root));
  const total = full.log.status().tokensInContext;
  const big = full.log.table()!.segs.find((s) => s.path === 'src/big.ts')!.tokens;
  await full.log.dispose();
  // Room for everything but the big file.
  const budget = Math.ceil((total - big + 50) / 0.9);
  const h = await openLog(folder(root), { budgetTokens: budget });
  assert.deepEqual(h.log.report().leftOut, ['src/big.ts']);
  await h.log.dispose();
});
