// The CLI's plain read of a repository: the tracked text files (git ls-files,
// or a walk honoring .gitignore), without binaries, huge or generated files
// and secrets, in a stable order. The workspace context log replaces this
// later; callers use only readRepository().
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import ignore, { Ignore } from 'ignore';

export interface RepoFile {
  path: string; // relative, with '/'
  text: string;
}

export type SkipReason = 'secret' | 'binary' | 'too large' | 'generated' | 'unreadable';

export interface RepoRead {
  root: string;
  files: RepoFile[];
  skipped: { path: string; reason: SkipReason }[];
  /** How the file list was made. */
  source: 'git' | 'walk';
}

export interface ReadOptions {
  /** Files above this size are skipped (default 256 KiB). */
  maxFileBytes?: number;
}

const SECRET_NAMES = [
  /^\.env($|\.)/i,
  /\.(pem|key|p12|pfx|jks|keystore|kdbx|gpg|asc)$/i,
  /^id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/,
  /^\.(netrc|npmrc|pypirc|pgpass|htpasswd)$/i,
  /^credentials(\.json)?$/i,
  /^secrets?\.(json|ya?ml|toml|txt)$/i,
];

const BINARY_EXTENSIONS = new Set(
  (
    'png jpg jpeg gif bmp ico icns webp tif tiff psd svgz pdf zip gz tgz bz2 xz zst 7z rar tar jar war class ' +
    'so dylib dll exe o a lib obj bin dat node wasm pyc pyo whl gguf pth pt ckpt safetensors onnx npy npz h5 ' +
    'mp3 mp4 wav ogg flac mov avi mkv webm ttf otf woff woff2 eot sqlite db vsix'
  ).split(' '),
);

const GENERATED_NAMES = new Set(['package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'Cargo.lock', 'poetry.lock', 'Gemfile.lock', 'composer.lock', 'go.sum']);

export function isSecretPath(relPath: string): boolean {
  const base = path.posix.basename(relPath);
  return SECRET_NAMES.some((re) => re.test(base));
}

/** NUL bytes or invalid UTF-8 in the content. */
export function looksBinary(buf: Uint8Array): boolean {
  if (buf.subarray(0, 8192).includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return false;
  } catch {
    return true;
  }
}

/** Minified or machine-written text: very long lines on average. */
export function looksGenerated(text: string): boolean {
  if (text.length < 4096) return false;
  const lines = text.split('\n').length;
  return text.length / lines > 300;
}

/** Sorted by path, with the top-level README last (nearest to the question). */
export function orderPaths(paths: string[]): string[] {
  const sorted = [...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const readme = sorted.filter((p) => /^readme(\.[a-z]+)?$/i.test(p));
  return [...sorted.filter((p) => !readme.includes(p)), ...readme];
}

function gitFiles(root: string): string[] | null {
  try {
    const out = execFileSync('git', ['-C', root, 'ls-files', '-z', '--cached'], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 << 20 });
    return out
      .toString('utf8')
      .split('\0')
      .filter((p) => p.length > 0);
  } catch {
    return null; // not a repository, or no git
  }
}

/** A walk of root honoring every .gitignore on the way (and skipping .git, node_modules). */
export function walkFiles(root: string): string[] {
  const out: string[] = [];
  const rules: { dir: string; ig: Ignore }[] = [];
  const ignored = (rel: string, isDir: boolean): boolean => {
    for (const r of rules) {
      if (r.dir !== '' && !rel.startsWith(r.dir + '/')) continue;
      const sub = r.dir === '' ? rel : rel.slice(r.dir.length + 1);
      if (r.ig.ignores(isDir ? sub + '/' : sub)) return true;
    }
    return false;
  };
  const visit = (dirRel: string): void => {
    const abs = path.join(root, dirRel);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    const gi = entries.find((e) => e.isFile() && e.name === '.gitignore');
    const pushed = gi !== undefined;
    if (gi) rules.push({ dir: dirRel, ig: ignore().add(fs.readFileSync(path.join(abs, '.gitignore'), 'utf8')) });
    for (const e of entries) {
      const rel = dirRel === '' ? e.name : `${dirRel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name === '.git' || e.name === 'node_modules' || ignored(rel, true)) continue;
        visit(rel);
      } else if (e.isFile() && !ignored(rel, false)) {
        out.push(rel);
      }
    }
    if (pushed) rules.pop();
  };
  visit('');
  return out;
}

export function readRepository(root: string, options: ReadOptions = {}): RepoRead {
  const maxBytes = options.maxFileBytes ?? 256 * 1024;
  const fromGit = gitFiles(root);
  const source = fromGit !== null ? 'git' : 'walk';
  const paths = orderPaths(fromGit ?? walkFiles(root));
  const files: RepoFile[] = [];
  const skipped: RepoRead['skipped'] = [];
  for (const rel of paths) {
    const skip = (reason: SkipReason) => skipped.push({ path: rel, reason });
    if (isSecretPath(rel)) {
      skip('secret');
      continue;
    }
    const ext = path.posix.extname(rel).slice(1).toLowerCase();
    if (BINARY_EXTENSIONS.has(ext)) {
      skip('binary');
      continue;
    }
    if (GENERATED_NAMES.has(path.posix.basename(rel))) {
      skip('generated');
      continue;
    }
    const abs = path.join(root, rel);
    let stat: fs.Stats;
    let buf: Buffer;
    try {
      stat = fs.statSync(abs);
      if (!stat.isFile()) continue; // a tracked path deleted or turned into a folder
      if (stat.size > maxBytes) {
        skip('too large');
        continue;
      }
      buf = fs.readFileSync(abs);
    } catch {
      skip('unreadable');
      continue;
    }
    if (looksBinary(buf)) {
      skip('binary');
      continue;
    }
    const text = buf.toString('utf8');
    if (looksGenerated(text)) {
      skip('generated');
      continue;
    }
    files.push({ path: rel, text });
  }
  return { root, files, skipped, source };
}
