// Workspace discovery: which files enter the context, and why the others don't.
//
// Order of rules for a path (first hit decides the reported reason):
//   1. built-in secret patterns (always win, even over a re-include)
//   2. built-in folders (.git, node_modules, …) and files.exclude
//   3. ignore layers: .git/info/exclude < .gitignore (root → deep) < .rwkvxignore
//      < the folder's extra patterns from the settings (gitignore syntax)
//   4. size limit, binary (NUL sniff), private-key content, generated, minified
// Symlink loops, broken links and unreadable entries are reported, never fatal.
import * as path from 'node:path';
import type { DirEntry, FileSystemPort, FsError, WorkspaceFolder } from '../context/ports';
import { hashBytes, hashText } from '../context/hash';
import { compileFilesExclude, matchFilesExclude, type CompiledExclude } from './glob';
import { extraIgnoreLayer, judge, makeLayer, relUnder, type IgnoreLayer } from './ignoreLayers';
import { mapPool } from './pool';
import { secretByContent, secretByName } from './secrets';
import { generatedReason, isBinary, minifiedReason } from './sniff';

export type SkipReason =
  | 'secret' | 'builtin' | 'files-exclude' | 'gitignore' | 'git-info-exclude' | 'rwkvxignore' | 'extra-ignore'
  | 'too-large' | 'binary' | 'generated' | 'minified'
  | 'symlink-loop' | 'broken-symlink' | 'outside-workspace' | 'duplicate' | 'unreadable' | 'not-a-file';

export interface SkippedEntry {
  /** Display path; folders end with `/`. */
  path: string;
  reason: SkipReason;
  detail?: string;
}

export interface IncludedFile {
  folder: number;
  abs: string;
  /** Relative to its workspace folder, `/` separators. */
  rel: string;
  /** What the context shows: rel, prefixed by the folder name in multi-root workspaces. */
  path: string;
  size: number;
  mtimeMs: number;
  text: string;
  hash: string;
}

export interface DiscoveryReport {
  included: IncludedFile[];
  skipped: SkippedEntry[];
  counts: Partial<Record<SkipReason, number>>;
  bytes: number;
}

export interface DiscoveryOptions {
  /** Files above this many bytes are skipped (default 1 MiB). */
  maxFileBytes?: number;
  /** Folder names never entered (default: VCS folders, dependency and cache folders). */
  builtinFolders?: readonly string[];
  /** Parallel file reads (default 8; the Node port is synchronous, a remote one is not). */
  concurrency?: number;
  onProgress?: (filesDone: number, filesTotal: number) => void;
}

export const DEFAULT_BUILTIN_FOLDERS = [
  '.git', '.hg', '.svn', '.jj', 'node_modules', '__pycache__', '.venv', '.tox',
  '.mypy_cache', '.pytest_cache', '.ruff_cache', '.gradle', '.next', '.nuxt', '.cache',
];

interface DirContext {
  folder: number;
  abs: string;
  real: string;
  rel: string;
  /** Real paths of the folders above, for loop detection. */
  ancestors: ReadonlySet<string>;
  git: IgnoreLayer[];
  rwkvx: IgnoreLayer[];
  /** Reached through a symlinked folder: its files may duplicate direct ones. */
  viaLink: boolean;
  /** Set on a folder that is itself excluded (for events below it). */
  skip?: SkippedEntry;
  /** The listing read while judging the folder, reused once by the walk. */
  entries?: DirEntry[];
}

interface Candidate {
  folder: number;
  abs: string;
  rel: string;
  real?: string;
  viaSymlink: boolean;
}

export type PathVerdict =
  | { kind: 'file'; file: IncludedFile }
  | { kind: 'skipped'; entry: SkippedEntry }
  | { kind: 'dir' }
  | { kind: 'missing' }
  | { kind: 'outside' };

/** Lets timers and I/O run between slices of a long scan. */
const yieldNow = () => new Promise<void>((r) => setImmediate(r));
const SLICE = 128;

/** dir is already resolved: plain concatenation, no normalize() per entry. */
const childPath = (dir: string, name: string) => (dir.endsWith(path.sep) ? dir + name : dir + path.sep + name);

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const looseUtf8 = new TextDecoder('utf-8');

/** Text of a file; `lossless` when encoding the text gives back exactly these bytes. */
function decodeUtf8(bytes: Uint8Array): { text: string; lossless: boolean } {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  if (!bom) {
    try {
      return { text: strictUtf8.decode(bytes), lossless: true };
    } catch {
      // Not valid UTF-8: replacement characters below.
    }
  }
  return { text: looseUtf8.decode(bytes), lossless: false };
}

const errCode = (e: unknown) => (e as FsError)?.code ?? 'EUNKNOWN';
const errText = (e: unknown) => (e as Error)?.message ?? String(e);

export class Discovery {
  private folders: WorkspaceFolder[];
  private excludes: CompiledExclude[][];
  /** Per folder: the settings' extra patterns, judged after every ignore file. */
  private extra: (IgnoreLayer | undefined)[];
  private roots: (DirContext | undefined)[] = [];
  private dirs = new Map<string, DirContext>();
  private readonly maxFileBytes: number;
  private readonly builtin: ReadonlySet<string>;
  private readonly concurrency: number;

  constructor(private readonly fs: FileSystemPort, folders: WorkspaceFolder[], private readonly options: DiscoveryOptions = {}) {
    this.folders = folders;
    this.excludes = folders.map((f) => compileFilesExclude(f.filesExclude));
    this.extra = folders.map((f) => extraIgnoreLayer(path.resolve(f.path), f.extraIgnore));
    this.maxFileBytes = options.maxFileBytes ?? 1 << 20;
    this.builtin = new Set(options.builtinFolders ?? DEFAULT_BUILTIN_FOLDERS);
    this.concurrency = options.concurrency ?? 8;
  }

  get workspaceFolders(): readonly WorkspaceFolder[] { return this.folders; }

  /** New settings or ignore files: forget every cached folder verdict. */
  reset(folders?: WorkspaceFolder[]): void {
    if (folders) {
      this.folders = folders;
      this.excludes = folders.map((f) => compileFilesExclude(f.filesExclude));
      this.extra = folders.map((f) => extraIgnoreLayer(path.resolve(f.path), f.extraIgnore));
    }
    this.roots = [];
    this.dirs.clear();
  }

  displayPath(folder: number, rel: string): string {
    return this.folders.length > 1 ? `${this.folders[folder].name}/${rel}` : rel;
  }

  /** Which workspace folder holds abs, and the path relative to it. */
  locate(abs: string): { folder: number; rel: string } | undefined {
    let best: { folder: number; rel: string } | undefined;
    let bestLen = -1;
    this.folders.forEach((f, i) => {
      const rel = relUnder(path.resolve(f.path), path.resolve(abs));
      if (rel !== undefined && f.path.length > bestLen) { best = { folder: i, rel }; bestLen = f.path.length; }
    });
    return best;
  }

  // ---------------------------------------------------------------- full scan

  async scan(): Promise<DiscoveryReport> {
    this.reset();
    const skipped: SkippedEntry[] = [];
    const candidates: Candidate[] = [];
    for (let i = 0; i < this.folders.length; i++) {
      const root = await this.rootContext(i, skipped);
      if (root) await this.walk(root, skipped, candidates);
    }
    return this.readCandidates(candidates, skipped);
  }

  /** Files below a folder that appeared after the scan (a created or renamed folder). */
  async scanFolder(abs: string): Promise<DiscoveryReport> {
    const skipped: SkippedEntry[] = [];
    const candidates: Candidate[] = [];
    const ctx = await this.dirContext(path.resolve(abs), skipped);
    if (ctx && !ctx.skip) await this.walk(ctx, skipped, candidates);
    else if (ctx?.skip) skipped.push(ctx.skip);
    return this.readCandidates(candidates, skipped);
  }

  /** Judges one path after an event, with the same rules as the scan. */
  async checkPath(abs: string, overlayText?: string): Promise<PathVerdict> {
    abs = path.resolve(abs);
    const loc = this.locate(abs);
    if (!loc) return { kind: 'outside' };
    if (loc.rel === '') return { kind: 'dir' };
    const skipped: SkippedEntry[] = [];
    const parent = await this.dirContext(path.dirname(abs), skipped);
    if (!parent) return skipped.length ? { kind: 'skipped', entry: skipped[0] } : { kind: 'missing' };
    if (parent.skip) return { kind: 'skipped', entry: { ...parent.skip } };
    let kind: 'file' | 'dir' | 'symlink' | 'other';
    let siblings: Set<string> | undefined;
    try {
      const entries = await this.fs.readDir(parent.abs);
      siblings = new Set(entries.map((e) => e.name));
      const entry = entries.find((e) => e.name === path.basename(abs));
      if (!entry) return overlayText === undefined ? { kind: 'missing' } : this.overlayVerdict(parent, abs, overlayText);
      kind = entry.kind;
    } catch (e) {
      return { kind: 'skipped', entry: { path: this.displayPath(loc.folder, loc.rel), reason: 'unreadable', detail: errText(e) } };
    }
    const candidates: Candidate[] = [];
    const isDir = await this.classifyEntry(parent, path.basename(abs), kind, siblings, skipped, candidates);
    if (isDir) { isDir.entries = undefined; return { kind: 'dir' }; }
    if (skipped.length) return { kind: 'skipped', entry: skipped[0] };
    if (!candidates.length) return { kind: 'missing' };
    if (overlayText !== undefined) return this.overlayVerdict(parent, abs, overlayText);
    const report = await this.readCandidates(candidates, skipped, false);
    if (report.included.length) return { kind: 'file', file: report.included[0] };
    return report.skipped.length ? { kind: 'skipped', entry: report.skipped[0] } : { kind: 'missing' };
  }

  // ------------------------------------------------------------ folder walk

  private async rootContext(folder: number, skipped: SkippedEntry[]): Promise<DirContext | undefined> {
    const cached = this.roots[folder];
    if (cached) return cached;
    const abs = path.resolve(this.folders[folder].path);
    let real: string;
    try {
      real = await this.fs.realpath(abs);
    } catch (e) {
      skipped.push({ path: this.displayPath(folder, '') || '/', reason: 'unreadable', detail: errText(e) });
      return undefined;
    }
    // A folder inside a repository inherits the .gitignore files above it.
    const git: IgnoreLayer[] = [];
    const chain: string[] = [];
    for (let dir = path.dirname(abs); ; dir = path.dirname(dir)) {
      chain.unshift(dir);
      if (await this.exists(path.join(dir, '.git'))) {
        git.push(...(await this.repoLayers(dir)));
        for (const d of chain) {
          const l = await this.loadLayer(d, '.gitignore', 'gitignore', skipped);
          if (l) git.push(l);
        }
        break;
      }
      if (path.dirname(dir) === dir) break;
    }
    const ctx: DirContext = { folder, abs, real, rel: '', ancestors: new Set([real]), git, rwkvx: [], viaLink: false };
    await this.addOwnLayers(ctx, skipped);
    this.roots[folder] = ctx;
    this.dirs.set(abs, ctx);
    return ctx;
  }

  private async exists(p: string): Promise<boolean> {
    try { await this.fs.stat(p); return true; } catch { return false; }
  }

  /** .git/info/exclude of the repository rooted at dir (.git may be a gitdir file). */
  private async repoLayers(dir: string): Promise<IgnoreLayer[]> {
    let gitDir = path.join(dir, '.git');
    try {
      const st = await this.fs.stat(gitDir);
      if (st.kind === 'file') {
        const m = /^gitdir:\s*(.+)$/m.exec(Buffer.from(await this.fs.readFile(gitDir)).toString('utf8'));
        if (!m) return [];
        gitDir = path.resolve(dir, m[1].trim());
      }
      const file = path.join(gitDir, 'info', 'exclude');
      const text = Buffer.from(await this.fs.readFile(file)).toString('utf8');
      const layer = makeLayer(dir, 'git-info-exclude', file, text);
      return layer ? [layer] : [];
    } catch {
      return [];
    }
  }

  private async loadLayer(dir: string, name: string, reason: 'gitignore' | 'rwkvxignore', skipped: SkippedEntry[]): Promise<IgnoreLayer | undefined> {
    const file = path.join(dir, name);
    try {
      const text = Buffer.from(await this.fs.readFile(file)).toString('utf8');
      return makeLayer(dir, reason, file, text);
    } catch (e) {
      const code = errCode(e);
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR') {
        const loc = this.locate(file);
        if (loc) skipped.push({ path: this.displayPath(loc.folder, loc.rel), reason: 'unreadable', detail: errText(e) });
      }
      return undefined;
    }
  }

  /** A folder's own .git (new repository: the outer rules stop), .gitignore and .rwkvxignore. */
  private async addOwnLayers(ctx: DirContext, skipped: SkippedEntry[], names?: ReadonlySet<string>): Promise<void> {
    const has = (n: string) => (names ? names.has(n) : true);
    if (names ? names.has('.git') : await this.exists(path.join(ctx.abs, '.git'))) {
      ctx.git = await this.repoLayers(ctx.abs);
    }
    if (has('.gitignore')) {
      const l = await this.loadLayer(ctx.abs, '.gitignore', 'gitignore', skipped);
      if (l) ctx.git = [...ctx.git, l];
    }
    if (has('.rwkvxignore')) {
      const l = await this.loadLayer(ctx.abs, '.rwkvxignore', 'rwkvxignore', skipped);
      if (l) ctx.rwkvx = [...ctx.rwkvx, l];
    }
  }

  /** The context of any folder inside the workspace, judged on the way down. */
  private async dirContext(abs: string, skipped: SkippedEntry[]): Promise<DirContext | undefined> {
    const cached = this.dirs.get(abs);
    if (cached) return cached;
    const loc = this.locate(abs);
    if (!loc) return undefined;
    if (loc.rel === '') return this.rootContext(loc.folder, skipped);
    const parent = await this.dirContext(path.dirname(abs), skipped);
    if (!parent) return undefined;
    if (parent.skip) return parent;
    let entries;
    try {
      entries = await this.fs.readDir(parent.abs);
    } catch (e) {
      skipped.push({ path: this.displayPath(parent.folder, parent.rel) + '/', reason: 'unreadable', detail: errText(e) });
      return undefined;
    }
    const name = path.basename(abs);
    const entry = entries.find((e) => e.name === name);
    if (!entry) return undefined;
    const local: SkippedEntry[] = [];
    const found: Candidate[] = [];
    const siblings = new Set(entries.map((e) => e.name));
    const child = await this.classifyEntry(parent, name, entry.kind, siblings, local, found);
    if (child) { child.entries = undefined; return child; }
    if (local.length) {
      const ctx: DirContext = { ...parent, abs, rel: loc.rel, skip: local[0] };
      return ctx;
    }
    return undefined;
  }

  private async walk(ctx: DirContext, skipped: SkippedEntry[], out: Candidate[]): Promise<void> {
    let entries = ctx.entries;
    ctx.entries = undefined;
    try {
      entries ??= await this.fs.readDir(ctx.abs);
    } catch (e) {
      skipped.push({ path: (this.displayPath(ctx.folder, ctx.rel) || '.') + '/', reason: 'unreadable', detail: errText(e) });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const siblings = new Set(entries.map((e) => e.name));
    const subdirs: DirContext[] = [];
    for (const e of entries) {
      const sub = await this.classifyEntry(ctx, e.name, e.kind, siblings, skipped, out);
      if (sub) subdirs.push(sub);
    }
    for (const sub of subdirs) {
      if (++this.walked % SLICE === 0) await yieldNow();
      await this.walk(sub, skipped, out);
    }
  }
  private walked = 0;

  /**
   * Judges one entry of a folder by name and kind. Folders that pass get a
   * context (registered in this.dirs) that the call returns; files that pass
   * become candidates (read and sniffed later).
   */
  private async classifyEntry(
    parent: DirContext, name: string, kind: 'file' | 'dir' | 'symlink' | 'other',
    siblings: ReadonlySet<string> | undefined, skipped: SkippedEntry[], out: Candidate[],
  ): Promise<DirContext | undefined> {
    const abs = childPath(parent.abs, name);
    const rel = parent.rel ? `${parent.rel}/${name}` : name;
    const shown = this.displayPath(parent.folder, rel);
    let real: string | undefined;
    let isDir = kind === 'dir';
    if (kind === 'symlink') {
      try {
        real = await this.fs.realpath(abs);
        const st = await this.fs.stat(abs);
        if (st.kind === 'other') { skipped.push({ path: shown, reason: 'not-a-file' }); return undefined; }
        isDir = st.kind === 'dir';
      } catch (e) {
        const code = errCode(e);
        skipped.push({
          path: shown,
          reason: code === 'ELOOP' ? 'symlink-loop' : code === 'ENOENT' ? 'broken-symlink' : 'unreadable',
          detail: errText(e),
        });
        return undefined;
      }
    } else if (kind === 'other') {
      skipped.push({ path: shown, reason: 'not-a-file' });
      return undefined;
    }
    const shownDir = isDir ? shown + '/' : shown;

    if (!isDir) {
      const secret = secretByName(rel);
      if (secret) { skipped.push({ path: shown, reason: 'secret', detail: secret }); return undefined; }
    }
    // A `.git` file (worktree, submodule) is metadata as much as the folder.
    if ((isDir || name === '.git') && this.builtin.has(name)) { skipped.push({ path: shownDir, reason: 'builtin' }); return undefined; }
    const excludedBy = matchFilesExclude(this.excludes[parent.folder], rel, siblings);
    if (excludedBy) { skipped.push({ path: shownDir, reason: 'files-exclude', detail: excludedBy }); return undefined; }
    const extra = this.extra[parent.folder];
    const verdict = judge(extra ? [...parent.git, ...parent.rwkvx, extra] : [...parent.git, ...parent.rwkvx], abs, isDir);
    if (verdict.ignored) {
      skipped.push({ path: shownDir, reason: verdict.layer!.reason, detail: `${verdict.pattern} (${verdict.layer!.file})` });
      return undefined;
    }

    if (real !== undefined) {
      // Where the link points decides whether following it is safe.
      const inside = this.folders.some((f) => relUnder(path.resolve(f.path), real!) !== undefined)
        || this.roots.some((r) => r && relUnder(r.real, real!) !== undefined);
      if (isDir) {
        if (parent.ancestors.has(real) || [...parent.ancestors].some((a) => relUnder(real!, a) !== undefined)) {
          skipped.push({ path: shownDir, reason: 'symlink-loop', detail: `points to ${real}` });
          return undefined;
        }
        if (!inside) { skipped.push({ path: shownDir, reason: 'outside-workspace', detail: `points to ${real}` }); return undefined; }
      } else if (!inside) {
        skipped.push({ path: shown, reason: 'outside-workspace', detail: `points to ${real}` });
        return undefined;
      }
    }

    if (isDir) {
      const childReal = real ?? childPath(parent.real, name);
      if (real !== undefined && [...this.dirs.values()].some((d) => d.real === real)) {
        skipped.push({ path: shownDir, reason: 'duplicate', detail: `same folder as ${real}` });
        return undefined;
      }
      const ctx: DirContext = {
        folder: parent.folder, abs, real: childReal, rel,
        ancestors: new Set([...parent.ancestors, childReal]), git: parent.git, rwkvx: parent.rwkvx,
        viaLink: parent.viaLink || real !== undefined,
      };
      try {
        ctx.entries = await this.fs.readDir(abs);
      } catch {
        // The walk reports the unreadable folder.
      }
      await this.addOwnLayers(ctx, skipped, new Set((ctx.entries ?? []).map((e) => e.name)));
      this.dirs.set(abs, ctx);
      return ctx;
    }
    out.push({
      folder: parent.folder, abs, rel, real: real ?? childPath(parent.real, name),
      viaSymlink: parent.viaLink || real !== undefined,
    });
    return undefined;
  }

  private overlayVerdict(parent: DirContext, abs: string, text: string): PathVerdict {
    const rel = parent.rel ? `${parent.rel}/${path.basename(abs)}` : path.basename(abs);
    const shown = this.displayPath(parent.folder, rel);
    const secret = secretByName(rel) ?? secretByContent(text);
    if (secret) return { kind: 'skipped', entry: { path: shown, reason: 'secret', detail: secret } };
    const bytes = Buffer.byteLength(text, 'utf8');
    const skip = this.textSkip(path.basename(abs), text, bytes);
    if (skip) return { kind: 'skipped', entry: { path: shown, ...skip } };
    return {
      kind: 'file',
      file: { folder: parent.folder, abs, rel, path: shown, size: bytes, mtimeMs: Date.now(), text, hash: hashText(text) },
    };
  }

  private textSkip(name: string, text: string, size: number): { reason: SkipReason; detail: string } | undefined {
    if (size > this.maxFileBytes) return { reason: 'too-large', detail: `${size} bytes > ${this.maxFileBytes}` };
    const secret = secretByContent(text);
    if (secret) return { reason: 'secret', detail: secret };
    const gen = generatedReason(name, text);
    if (gen) return { reason: 'generated', detail: gen };
    const min = minifiedReason(name, text);
    if (min) return { reason: 'minified', detail: min };
    return undefined;
  }

  // ------------------------------------------------------------ file reads

  private async readCandidates(candidates: Candidate[], skipped: SkippedEntry[], dedupe = true): Promise<DiscoveryReport> {
    const total = candidates.length;
    let done = 0;
    const results = await mapPool(candidates, this.concurrency, async (c): Promise<IncludedFile | SkippedEntry> => {
      const shown = this.displayPath(c.folder, c.rel);
      try {
        const st = await this.fs.stat(c.abs);
        if (st.kind !== 'file') return { path: shown, reason: 'not-a-file' };
        if (st.size > this.maxFileBytes) return { path: shown, reason: 'too-large', detail: `${st.size} bytes > ${this.maxFileBytes}` };
        const bytes = await this.fs.readFile(c.abs);
        if (isBinary(bytes)) return { path: shown, reason: 'binary', detail: 'NUL byte in the first 8000 bytes' };
        const { text, lossless } = decodeUtf8(bytes);
        const skip = this.textSkip(path.basename(c.abs), text, bytes.length);
        if (skip) return { path: shown, ...skip };
        // Valid UTF-8 without a BOM re-encodes to the same bytes: hash those, skip the re-encoding.
        const hash = lossless ? hashBytes(bytes).slice(0, 32) : hashText(text);
        return { folder: c.folder, abs: c.abs, rel: c.rel, path: shown, size: bytes.length, mtimeMs: st.mtimeMs, text, hash };
      } catch (e) {
        return { path: shown, reason: 'unreadable', detail: errText(e) };
      } finally {
        if (done % SLICE === 0) await yieldNow();
        done++;
        if (this.options.onProgress && (done % 256 === 0 || done === total)) this.options.onProgress(done, total);
      }
    });
    const included: IncludedFile[] = [];
    const realOf = new Map<IncludedFile, Candidate>();
    results.forEach((r, i) => {
      if ('reason' in r) skipped.push(r);
      else { included.push(r); realOf.set(r, candidates[i]); }
    });
    // A linked file whose target is also included by its own path is a duplicate.
    let kept = included;
    if (dedupe) {
      const direct = new Set(included.filter((f) => !realOf.get(f)!.viaSymlink).map((f) => realOf.get(f)!.real));
      kept = [];
      for (const f of included) {
        const c = realOf.get(f)!;
        if (c.viaSymlink && c.real && direct.has(c.real)) skipped.push({ path: f.path, reason: 'duplicate', detail: `same file as ${c.real}` });
        else kept.push(f);
      }
    }
    const counts: Partial<Record<SkipReason, number>> = {};
    for (const s of skipped) counts[s.reason] = (counts[s.reason] ?? 0) + 1;
    return { included: kept, skipped, counts, bytes: kept.reduce((n, f) => n + f.size, 0) };
  }
}
