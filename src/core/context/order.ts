// Cold → hot order of the files in the stream:
//   1. READMEs and manifests (shallowest first): what the project is;
//   2. code grouped by folder, folders and files ordered so that what is
//      imported comes before what imports it (ties by path);
//   3. each test right after the folder of the code it tests (unmatched tests
//      after all code);
//   4. the hot tail: recently edited files, most recent last.
import * as path from 'node:path';

export interface OrderInput {
  /** Display path (`/` separators). */
  path: string;
  mtimeMs: number;
  /** Used only to find relative imports. */
  text: string;
}

export type Tier = 'overview' | 'code' | 'test' | 'hot';

export interface Ordered<T extends OrderInput> {
  file: T;
  tier: Tier;
}

export interface OrderOptions {
  /** At most this many files in the hot tail (default 8). */
  hotFiles: number;
  /** Files modified within this window count as recently edited (default 48 h)… */
  recentWindowMs: number;
  /** …unless more than this share of all files is that recent (a fresh clone or checkout). */
  recentMaxShare: number;
  now: number;
  /** Paths the editor saw edited, least recent first; they win over mtimes. */
  recentEdits?: readonly string[];
}

const README = /^readme(\.[a-z0-9]+)?$/i;
const MANIFESTS = new Set([
  'package.json', 'Cargo.toml', 'pyproject.toml', 'setup.py', 'setup.cfg', 'go.mod', 'pom.xml',
  'build.gradle', 'build.gradle.kts', 'settings.gradle', 'settings.gradle.kts', 'CMakeLists.txt',
  'Makefile', 'GNUmakefile', 'meson.build', 'composer.json', 'Gemfile', 'requirements.txt',
  'environment.yml', 'deno.json', 'tsconfig.json', 'mix.exs', 'pubspec.yaml', 'Package.swift',
  'build.zig', 'WORKSPACE', 'MODULE.bazel', 'BUILD.bazel', 'stack.yaml', 'dune-project', 'binding.gyp',
  'Dockerfile', 'docker-compose.yml', 'flake.nix', 'default.nix', 'project.clj', 'build.sbt',
]);
const MANIFEST_EXT = /\.(gemspec|csproj|fsproj|vbproj|sln|cabal|nimble)$/i;

export function isOverview(file: string): 'readme' | 'manifest' | undefined {
  const name = file.slice(file.lastIndexOf('/') + 1);
  if (README.test(name)) return 'readme';
  if (MANIFESTS.has(name) || MANIFEST_EXT.test(name)) return 'manifest';
  return undefined;
}

const TEST_DIRS = /(^|\/)(tests?|__tests__|spec|specs|testing)\//i;
const TEST_NAME = /(^test_.+|.+_test|.+\.(test|spec)|.+Tests?|.+_spec)\.[a-z0-9]+$/;

export function isTest(file: string): boolean {
  const name = file.slice(file.lastIndexOf('/') + 1);
  return TEST_NAME.test(name) || TEST_DIRS.test(file);
}

/** The stem a test is about: foo.test.ts, test_foo.py, foo_test.go, FooTest.java → foo / Foo. */
export function testSubjectStem(file: string): string {
  let name = file.slice(file.lastIndexOf('/') + 1);
  name = name.replace(/\.[a-z0-9]+$/i, '');
  return name.replace(/\.(test|spec)$/, '').replace(/^test_/, '').replace(/_(test|spec)$/, '').replace(/Tests?$/, '');
}

function stemOf(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1).replace(/\.[a-z0-9]+$/i, '');
}

const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

// ------------------------------------------------------------------ imports

const JS_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\(\s*)['"](\.{1,2}\/[^'"]*)['"]/g;
const PY_FROM = /^\s*from\s+(\.+)([\w.]*)\s+import\b/gm;
const C_INCLUDE = /^\s*#\s*include\s+"([^"]+)"/gm;
const RUST_MOD = /^\s*(?:pub\s+)?mod\s+(\w+)\s*;/gm;
const JS_EXT = ['', '.ts', '.tsx', '.js', '.jsx', '.mjs', '.cjs', '.mts', '/index.ts', '/index.tsx', '/index.js'];

/** Files of the workspace that `file` imports by relative path. */
export function localImports(file: string, text: string, exists: (p: string) => boolean): string[] {
  const out = new Set<string>();
  const dir = dirOf(file);
  const join = (...parts: string[]) => path.posix.normalize(path.posix.join(...parts)).replace(/^\.\//, '');
  const ext = path.posix.extname(file).toLowerCase();
  if (/^\.[cm]?[jt]sx?$/.test(ext) || ext === '.mts' || ext === '.cts') {
    for (const m of text.matchAll(JS_IMPORT)) {
      const base = join(dir, m[1]).replace(/\.js$/, '');
      for (const e of JS_EXT) {
        const candidate = base + e;
        if (exists(candidate)) { out.add(candidate); break; }
        if (e === '' && exists(join(dir, m[1]))) { out.add(join(dir, m[1])); break; }
      }
    }
  } else if (ext === '.py') {
    for (const m of text.matchAll(PY_FROM)) {
      let base = dir;
      for (let i = 1; i < m[1].length; i++) base = dirOf(base);
      const mod = m[2] ? join(base, m[2].replace(/\./g, '/')) : base;
      for (const c of [mod + '.py', mod + '/__init__.py']) if (exists(c)) { out.add(c); break; }
    }
  } else if (/^\.(c|h|cc|cpp|cxx|hpp|hh|cu|cuh|m|mm)$/.test(ext)) {
    for (const m of text.matchAll(C_INCLUDE)) {
      for (const c of [join(dir, m[1]), join(m[1]), join('include', m[1]), join('src', m[1])]) {
        if (exists(c)) { out.add(c); break; }
      }
    }
  } else if (ext === '.rs') {
    const base = /\/(mod|lib|main)\.rs$|^(mod|lib|main)\.rs$/.test(file) ? dir : join(dir, stemOf(file));
    for (const m of text.matchAll(RUST_MOD)) {
      for (const c of [join(base, m[1] + '.rs'), join(base, m[1], 'mod.rs')]) if (exists(c)) { out.add(c); break; }
    }
  }
  out.delete(file);
  return [...out];
}

/** Kahn's algorithm; among ready nodes the smallest key goes first; cycles break at the smallest key. */
export function stableTopoSort<K extends string>(nodes: readonly K[], deps: ReadonlyMap<K, ReadonlySet<K>>): K[] {
  const index = new Map(nodes.map((n, i) => [n, i] as const));
  const indeg = new Map<K, number>(nodes.map((n) => [n, 0]));
  const users = new Map<K, K[]>();
  for (const n of nodes) {
    for (const d of deps.get(n) ?? []) {
      if (!index.has(d) || d === n) continue;
      indeg.set(n, indeg.get(n)! + 1);
      if (!users.has(d)) users.set(d, []);
      users.get(d)!.push(n);
    }
  }
  const heap = new MinHeap<K>((a, b) => index.get(a)! - index.get(b)!);
  for (const n of nodes) if (indeg.get(n) === 0) heap.push(n);
  const out: K[] = [];
  const done = new Set<K>();
  let scan = 0;
  while (out.length < nodes.length) {
    let n = heap.pop();
    if (n === undefined) {
      // A cycle: release the earliest node left.
      while (done.has(nodes[scan])) scan++;
      n = nodes[scan];
    }
    if (done.has(n)) continue;
    done.add(n);
    out.push(n);
    for (const u of users.get(n) ?? []) {
      const d = indeg.get(u)! - 1;
      indeg.set(u, d);
      if (d === 0 && !done.has(u)) heap.push(u);
    }
  }
  return out;
}

class MinHeap<T> {
  private a: T[] = [];
  constructor(private readonly cmp: (x: T, y: T) => number) {}
  push(v: T): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (this.cmp(a[i], a[p]) >= 0) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.cmp(a[l], a[m]) < 0) m = l;
        if (r < a.length && this.cmp(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

// -------------------------------------------------------------------- order

export const DEFAULT_ORDER: Omit<OrderOptions, 'now'> = { hotFiles: 8, recentWindowMs: 48 * 3600_000, recentMaxShare: 0.5 };

/** Picks the hot tail: editor-reported edits first, then recent mtimes (if they mean anything). */
export function pickHot<T extends OrderInput>(files: readonly T[], o: OrderOptions): T[] {
  const byPath = new Map(files.map((f) => [f.path, f] as const));
  const hot: T[] = [];
  const seen = new Set<string>();
  const edits = [...(o.recentEdits ?? [])].reverse(); // most recent first
  for (const p of edits) {
    const f = byPath.get(p);
    if (f && !seen.has(p) && hot.length < o.hotFiles) { hot.push(f); seen.add(p); }
  }
  const recent = files.filter((f) => !seen.has(f.path) && o.now - f.mtimeMs <= o.recentWindowMs);
  if (recent.length <= files.length * o.recentMaxShare) {
    recent.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.path < b.path ? -1 : 1));
    for (const f of recent) {
      if (hot.length >= o.hotFiles) break;
      hot.push(f);
      seen.add(f.path);
    }
  }
  // Least recent first, so the most recent ends the stream. Editor order wins over mtimes.
  const editRank = new Map(edits.map((p, i) => [p, i] as const));
  hot.sort((a, b) => {
    const ea = editRank.get(a.path), eb = editRank.get(b.path);
    if (ea !== undefined || eb !== undefined) return (eb ?? Infinity) - (ea ?? Infinity);
    return a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1);
  });
  return hot;
}

const byPath = <T extends OrderInput>(a: T, b: T) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * The cold order is computed over every file, hot ones included, and the hot
 * files are then lifted out to the tail: a file turning hot (or cold again)
 * never reorders the others, so a compaction after edits can reuse the whole
 * stream up to the first changed file.
 */
export function orderFiles<T extends OrderInput>(files: readonly T[], o: OrderOptions): Ordered<T>[] {
  const hot = pickHot(files, o);
  const hotSet = new Set(hot.map((f) => f.path));
  const cold = coldOrder(files).filter((x) => !hotSet.has(x.file.path));
  return [...cold, ...hot.map((file) => ({ file, tier: 'hot' as const }))];
}

function coldOrder<T extends OrderInput>(files: readonly T[]): Ordered<T>[] {
  const rest = [...files].sort(byPath);
  const overview = rest.filter((f) => isOverview(f.path));
  overview.sort((a, b) => {
    const da = a.path.split('/').length, db = b.path.split('/').length;
    if (da !== db) return da - db;
    const ra = isOverview(a.path) === 'readme' ? 0 : 1, rb = isOverview(b.path) === 'readme' ? 0 : 1;
    return ra - rb || byPath(a, b);
  });
  const overviewSet = new Set(overview.map((f) => f.path));
  const tests = rest.filter((f) => !overviewSet.has(f.path) && isTest(f.path));
  const testSet = new Set(tests.map((f) => f.path));
  const code = rest.filter((f) => !overviewSet.has(f.path) && !testSet.has(f.path));

  // Imports between code files, lifted to folders.
  const all = new Set(files.map((f) => f.path));
  const exists = (p: string) => all.has(p);
  const fileDeps = new Map<string, Set<string>>();
  const dirDeps = new Map<string, Set<string>>();
  for (const f of code) {
    const deps = new Set(localImports(f.path, f.text, exists));
    fileDeps.set(f.path, deps);
    const d = dirOf(f.path);
    for (const t of deps) {
      const td = dirOf(t);
      if (td === d) continue;
      if (!dirDeps.has(d)) dirDeps.set(d, new Set());
      dirDeps.get(d)!.add(td);
    }
  }
  const groups = new Map<string, T[]>();
  for (const f of code) {
    const d = dirOf(f.path);
    if (!groups.has(d)) groups.set(d, []);
    groups.get(d)!.push(f);
  }
  const dirOrder = stableTopoSort([...groups.keys()].sort(), dirDeps);

  // Each test goes after the folder holding its subject (closest path wins).
  const codeByStem = new Map<string, T[]>();
  for (const f of code) {
    const s = stemOf(f.path).toLowerCase();
    if (!codeByStem.has(s)) codeByStem.set(s, []);
    codeByStem.get(s)!.push(f);
  }
  const testsAfter = new Map<string, T[]>();
  const orphanTests: T[] = [];
  for (const t of tests) {
    const subjects = codeByStem.get(testSubjectStem(t.path).toLowerCase()) ?? [];
    let best: T | undefined;
    let bestScore = -1;
    for (const s of subjects) {
      const score = commonSuffixDirs(dirOf(s.path), dirOf(t.path)) * 1000 + commonPrefixDirs(dirOf(s.path), dirOf(t.path));
      if (score > bestScore) { best = s; bestScore = score; }
    }
    if (!best) { orphanTests.push(t); continue; }
    const d = dirOf(best.path);
    if (!testsAfter.has(d)) testsAfter.set(d, []);
    testsAfter.get(d)!.push(t);
  }

  const out: Ordered<T>[] = overview.map((file) => ({ file, tier: 'overview' as const }));
  for (const d of dirOrder) {
    const members = groups.get(d)!;
    const sorted = stableTopoSort(members.map((f) => f.path), fileDeps);
    const m = new Map(members.map((f) => [f.path, f] as const));
    for (const p of sorted) out.push({ file: m.get(p)!, tier: 'code' });
    for (const t of (testsAfter.get(d) ?? []).sort(byPath)) out.push({ file: t, tier: 'test' });
  }
  for (const t of orphanTests) out.push({ file: t, tier: 'test' });
  return out;
}

function commonSuffixDirs(a: string, b: string): number {
  const x = a.split('/'), y = b.split('/');
  let n = 0;
  while (n < x.length && n < y.length && x[x.length - 1 - n] === y[y.length - 1 - n]) n++;
  return n;
}

function commonPrefixDirs(a: string, b: string): number {
  const x = a.split('/'), y = b.split('/');
  let n = 0;
  while (n < x.length && n < y.length && x[n] === y[n]) n++;
  return n;
}
