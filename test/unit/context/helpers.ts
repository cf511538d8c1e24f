// Shared test helpers: fixture workspaces in temp folders, a file system that
// fails on purpose, context logs over the FakeEngine, and the check that the
// engine's stream equals a fresh stream of the current files.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ContextLog, type ContextOptions } from '../../../src/core/context/contextLog';
import { FakeClock } from '../../../src/core/context/fakeClock';
import { FakeEngine } from '../../../src/core/context/fakeEngine';
import { FolderStorage } from '../../../src/core/context/nodeStorage';
import type { DirEntry, FileStat, FileSystemPort, WorkspaceFolder } from '../../../src/core/context/ports';
import { NodeFileSystem } from '../../../src/core/workspace/nodeFs';

export const FIXTURES = path.resolve(__dirname, '../../../../test/fixtures/workspaces');

/** Names git would act on are stored with `_`: `_gitignore` → `.gitignore`, `_git` → `.git`. */
function undot(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const target = ['_gitignore', '_rwkvxignore', '_git'].includes(name) ? path.join(dir, '.' + name.slice(1)) : p;
    if (target !== p) renameSync(p, target);
    if (statSync(target).isDirectory()) undot(target);
  }
}

const made: string[] = [];

export function tempDir(prefix = 'rwkvx-ctx-'): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** A fresh copy of a fixture workspace; removed at process exit. */
export function materialize(name: string): string {
  const dir = path.join(tempDir(), name);
  cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  undot(dir);
  return dir;
}

process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** Node's file system, except the paths listed fail with the given code. */
export class FaultyFs implements FileSystemPort {
  private readonly inner = new NodeFileSystem();
  readonly failing = new Map<string, string>();

  private check(p: string): void {
    const code = this.failing.get(path.resolve(p));
    if (code) throw Object.assign(new Error(`${code}: simulated failure on ${p}`), { code });
  }
  async readFile(p: string): Promise<Uint8Array> { this.check(p); return this.inner.readFile(p); }
  async stat(p: string): Promise<FileStat> { return this.inner.stat(p); }
  async readDir(p: string): Promise<DirEntry[]> { this.check(p); return this.inner.readDir(p); }
  async realpath(p: string): Promise<string> { return this.inner.realpath(p); }
}

export interface Harness {
  log: ContextLog;
  engine: FakeEngine;
  clock: FakeClock;
  folders: WorkspaceFolder[];
  storageDir?: string;
}

export const TEST_OPTIONS: ContextOptions = {
  outliner: null,
  idleCompactMs: 0,
  staleThreshold: 0.9,
  timing: { unsavedDebounceMs: 500, batchMs: 100, maxWaitMs: 1000 },
};

export async function openLog(
  folders: WorkspaceFolder[], options: ContextOptions = {},
  extra: { engine?: FakeEngine; clock?: FakeClock; storageDir?: string; fs?: FileSystemPort; overlays?: ReadonlyMap<string, string> } = {},
): Promise<Harness> {
  const engine = extra.engine ?? new FakeEngine();
  const clock = extra.clock ?? new FakeClock();
  const log = new ContextLog({
    fs: extra.fs ?? new NodeFileSystem(), engine, clock, folders,
    storage: extra.storageDir ? new FolderStorage(extra.storageDir) : undefined,
  }, { ...TEST_OPTIONS, ...options });
  // Unsaved editor text known before the first build.
  for (const [p, text] of extra.overlays ?? []) log.notify({ type: 'changed', path: p, text });
  await log.start();
  return { log, engine, clock, folders, storageDir: extra.storageDir };
}

export interface DecodedSeg {
  header: string;
  kind: 'preamble' | 'file' | 'updated' | 'deleted';
  path: string;
  part: string;
  body: string;
  stale: boolean;
  text: string;
}

const HEADER = /^File(?: \((updated|deleted)\))?: (.+?)(?: \(part (\d+\/\d+)\))?$/;

/** Cuts the engine's token stream along the table and parses each segment back. */
export function decodeStream(h: Harness): DecodedSeg[] {
  const table = h.log.table();
  assert.ok(table, 'no current table');
  const tokens = h.engine.tokensOf(h.log.sessionId()!);
  const last = table.segs[table.segs.length - 1];
  assert.equal(last.start + last.tokens, tokens.length, 'the table must cover the session exactly');
  return table.segs.map((s, i) => {
    if (i > 0) assert.equal(s.start, table.segs[i - 1].start + table.segs[i - 1].tokens, 'segments must be contiguous');
    const text = h.engine.tokenizer.decode(tokens.subarray(s.start, s.start + s.tokens));
    if (s.kind === 'preamble') return { header: '', kind: 'preamble', path: '', part: '', body: text, stale: false, text };
    const nl = text.indexOf('\n');
    const header = text.slice(0, nl);
    const m = HEADER.exec(header);
    assert.ok(m, `bad header: ${header}`);
    const kind = (m[1] ?? 'file') as DecodedSeg['kind'];
    let body = '';
    if (kind !== 'deleted') {
      const rest = text.slice(nl + 1);
      const fence = /^(`{3,})[^\n]*\n/.exec(rest)!;
      const close = `${fence[1]}\n\n`;
      assert.ok(rest.endsWith(close), `segment of ${m[2]} must end with its fence`);
      body = rest.slice(fence[0].length, rest.length - close.length);
    }
    assert.equal(m[2], s.path, 'header path matches the table');
    return { header, kind, path: m[2], part: m[3] ?? '', body, stale: s.stale, text };
  });
}

/** The text a segment would have in a fresh stream: "File (updated)" is just "File" there. */
const normalize = (d: DecodedSeg) => d.text.replace(/^File \(updated\): /, 'File: ');

/**
 * The central property: what the model has read equals a fresh stream of the
 * current files, once stale copies are accounted for:
 *   - the live segments (not stale, not deletion notes) are exactly the
 *     segments of a fresh build, text for text (headers normalized);
 *   - every stale copy and every deletion note is followed later by a newer
 *     mention of the same path, and a path that is gone ends with a deletion
 *     note, so a reader can tell what is current.
 * Returns the fresh harness for further checks.
 */
export async function assertMatchesFresh(h: Harness, options: ContextOptions = {}, overlays?: ReadonlyMap<string, string>): Promise<Harness> {
  const ours = decodeStream(h);
  const fresh = await openLog(h.folders, { ...options, recentEdits: [...h.log.recent()] }, { clock: h.clock, overlays });
  const theirs = decodeStream(fresh);
  const live = ours.filter((d) => !d.stale && d.kind !== 'deleted').map(normalize).sort();
  const expected = theirs.map(normalize).sort();
  assert.deepEqual(live, expected, 'live segments must equal a fresh stream of the current files');
  const freshPaths = new Set(theirs.filter((d) => d.kind !== 'preamble').map((d) => d.path));
  ours.forEach((d, i) => {
    if (d.kind === 'preamble') return;
    const later = ours.slice(i + 1).filter((x) => x.path === d.path);
    if (d.stale) assert.ok(later.length > 0, `stale copy of ${d.path} must be superseded later`);
    if (later.length === 0 && !freshPaths.has(d.path)) {
      assert.equal(d.kind, 'deleted', `the last mention of removed ${d.path} must be a deletion note`);
    }
    if (d.kind === 'deleted') assert.ok(!freshPaths.has(d.path) || later.length > 0, `${d.path} exists but ends deleted`);
  });
  await fresh.log.dispose({ save: false });
  return fresh;
}

/** Lets queued timers and promise chains run (after FakeClock.advance). */
export async function settle(h: Harness): Promise<void> {
  await h.log.flush();
}
