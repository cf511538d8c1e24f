import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Discovery, type DiscoveryReport } from '../../../src/core/workspace/discovery';
import { globToRegExp, matchFilesExclude, compileFilesExclude } from '../../../src/core/workspace/glob';
import { NodeFileSystem } from '../../../src/core/workspace/nodeFs';
import { FaultyFs, materialize, tempDir } from './helpers';

const FAKE_KEY = ['-----BEGIN OPENSSH PRIVATE KEY-----', 'not-a-real-key-only-for-tests', '-----END OPENSSH PRIVATE KEY-----'].join('\n');

/** The rules fixture plus what cannot live in git: secrets, binaries, links, failures. */
function rulesWorkspace(): { root: string; fs: FaultyFs; outside: string } {
  const root = materialize('rules');
  writeFileSync(path.join(root, '.env'), 'TOKEN=placeholder\n');
  writeFileSync(path.join(root, '.env.local'), 'TOKEN=placeholder\n');
  writeFileSync(path.join(root, 'id_rsa'), FAKE_KEY + '\n');
  writeFileSync(path.join(root, 'server.pem'), 'placeholder\n');
  mkdirSync(path.join(root, 'config'));
  writeFileSync(path.join(root, 'config', 'credentials.json'), '{}\n');
  writeFileSync(path.join(root, 'docs', 'pasted.md'), `# Notes\n\n${FAKE_KEY}\n`);
  writeFileSync(path.join(root, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x01]));
  symlinkSync('..', path.join(root, 'src', 'loop'));
  symlinkSync('util.ts', path.join(root, 'src', 'alias.ts'));
  symlinkSync('nowhere.ts', path.join(root, 'dangling.ts'));
  const outside = path.join(tempDir(), 'outside.txt');
  writeFileSync(outside, 'outside the workspace\n');
  symlinkSync(outside, path.join(root, 'outside-link.txt'));
  writeFileSync(path.join(root, 'src', 'locked.ts'), 'export const locked = 1;\n');
  mkdirSync(path.join(root, 'locked-dir'));
  writeFileSync(path.join(root, 'locked-dir', 'inner.ts'), 'export {};\n');
  const fs = new FaultyFs();
  fs.failing.set(path.join(root, 'src', 'locked.ts'), 'EACCES');
  fs.failing.set(path.join(root, 'locked-dir'), 'EACCES');
  return { root, fs, outside };
}

async function scanRules(): Promise<{ report: DiscoveryReport; root: string; d: Discovery; fs: FaultyFs }> {
  const { root, fs } = rulesWorkspace();
  const d = new Discovery(fs, [{
    name: 'rules', path: root,
    filesExclude: { 'hidden-by-settings': true, '**/*.js': { when: '$(basename).ts' }, '**/.DS_Store': true },
  }], { maxFileBytes: 4096 });
  return { report: await d.scan(), root, d, fs };
}

const reasonOf = (r: DiscoveryReport, p: string) => r.skipped.find((s) => s.path === p)?.reason;

test('discovery: included files are exactly the ones no rule removes', async () => {
  const { report } = await scanRules();
  assert.deepEqual(report.included.map((f) => f.path).sort(), [
    '.gitignore', '.rwkvxignore', 'README.md', 'docs/guide.md', 'keep.log', 'package.json',
    'src/compiled.ts', 'src/main.ts', 'src/util.ts', 'sub/.gitignore', 'sub/a.ts', 'sub/secret-notes.txt', 'vendor/lib.js',
  ]);
  for (const f of report.included) assert.equal(f.size, Buffer.byteLength(f.text));
});

test('discovery: ignore files at every level, info/exclude and .rwkvxignore', async () => {
  const { report } = await scanRules();
  assert.equal(reasonOf(report, 'build/'), 'gitignore');
  assert.equal(reasonOf(report, 'src/app.log'), 'gitignore');
  assert.equal(reasonOf(report, 'secret-notes.txt'), 'gitignore', 'anchored root pattern');
  assert.equal(reasonOf(report, 'sub/secret-notes.txt'), undefined, 'anchored pattern does not reach subfolders');
  assert.equal(reasonOf(report, 'sub/b.tmp.ts'), 'gitignore', 'nested .gitignore');
  assert.match(report.skipped.find((s) => s.path === 'sub/b.tmp.ts')!.detail!, /sub[\\/]\.gitignore/);
  assert.equal(reasonOf(report, 'local-only.txt'), 'git-info-exclude');
  assert.equal(reasonOf(report, 'docs/private/'), 'rwkvxignore');
  assert.equal(reasonOf(report, '.git/'), 'builtin');
  // .gitignore says vendor/, .rwkvxignore says !vendor/: the project's rules win.
  assert.equal(reasonOf(report, 'vendor/'), undefined);
});

test('discovery: files.exclude globs and sibling conditions', async () => {
  const { report } = await scanRules();
  assert.equal(reasonOf(report, 'hidden-by-settings/'), 'files-exclude');
  assert.equal(reasonOf(report, 'src/compiled.js'), 'files-exclude', 'compiled.js has a compiled.ts sibling');
  assert.ok(report.included.some((f) => f.path === 'vendor/lib.js'), 'lib.js has no .ts sibling');
  assert.ok(globToRegExp('**/node_modules').test('a/b/node_modules'));
  assert.ok(globToRegExp('**/node_modules').test('node_modules/x/y.js'));
  assert.ok(!globToRegExp('node_modules').test('a/node_modules'), 'no **/: root only');
  assert.ok(globToRegExp('**/*.{js,map}').test('x/y.map'));
  assert.ok(globToRegExp('src/?.ts').test('src/a.ts') && !globToRegExp('src/?.ts').test('src/ab.ts'));
  assert.equal(matchFilesExclude(compileFilesExclude({ '**/*.js': false }), 'a.js', undefined), undefined, 'false disables a pattern');
});

test('discovery: secret patterns win even over a re-include', async () => {
  const { report } = await scanRules();
  for (const p of ['.env', '.env.local', 'id_rsa', 'server.pem', 'config/credentials.json']) {
    assert.equal(reasonOf(report, p), 'secret', p);
  }
  // .rwkvxignore has !.env, yet .env stays out.
  assert.ok(!report.included.some((f) => f.path.startsWith('.env')));
  const pasted = report.skipped.find((s) => s.path === 'docs/pasted.md')!;
  assert.equal(pasted.reason, 'secret');
  assert.match(pasted.detail!, /private key/);
});

test('discovery: binary, generated, minified and oversized files are skipped with a reason', async () => {
  const { report } = await scanRules();
  assert.equal(reasonOf(report, 'logo.png'), 'binary');
  assert.equal(reasonOf(report, 'package-lock.json'), 'generated');
  assert.equal(reasonOf(report, 'src/proto.ts'), 'generated');
  assert.equal(reasonOf(report, 'public/app.min.js'), 'minified');
  assert.equal(reasonOf(report, 'src/bundle.js'), 'minified');
  const big = report.skipped.find((s) => s.path === 'big.txt')!;
  assert.equal(big.reason, 'too-large');
  assert.match(big.detail!, /> 4096/);
});

test('discovery: symlink loops, broken and outside links, duplicates and unreadable entries are reported, not fatal', async () => {
  const { report } = await scanRules();
  assert.equal(reasonOf(report, 'src/loop/'), 'symlink-loop');
  assert.equal(reasonOf(report, 'dangling.ts'), 'broken-symlink');
  assert.equal(reasonOf(report, 'outside-link.txt'), 'outside-workspace');
  assert.equal(reasonOf(report, 'src/alias.ts'), 'duplicate');
  assert.equal(reasonOf(report, 'src/locked.ts'), 'unreadable');
  assert.match(report.skipped.find((s) => s.path === 'src/locked.ts')!.detail!, /EACCES/);
  assert.equal(reasonOf(report, 'locked-dir/'), 'unreadable');
  assert.equal(report.counts.secret, 6);
});

test('discovery: checkPath judges single paths with the same rules (events)', async () => {
  const { d, root } = await scanRules();
  const v1 = await d.checkPath(path.join(root, 'sub', 'b.tmp.ts'));
  assert.equal(v1.kind === 'skipped' && v1.entry.reason, 'gitignore');
  const v2 = await d.checkPath(path.join(root, 'src', 'main.ts'));
  assert.equal(v2.kind, 'file');
  const v3 = await d.checkPath(path.join(root, 'src', 'gone.ts'));
  assert.equal(v3.kind, 'missing');
  // Unsaved text of a file that exists only in the editor, with a key pasted in.
  const v4 = await d.checkPath(path.join(root, 'src', 'new.ts'), `// ${FAKE_KEY}`);
  assert.equal(v4.kind === 'skipped' && v4.entry.reason, 'secret');
  const v5 = await d.checkPath(path.join(root, 'src', 'new.ts'), 'export const n = 1;\n');
  assert.equal(v5.kind === 'file' && v5.file.path, 'src/new.ts');
  const v6 = await d.checkPath(path.join(root, 'build', 'new.js'));
  assert.equal(v6.kind === 'skipped' && v6.entry.reason, 'gitignore', 'inside an ignored folder');
  assert.equal((await d.checkPath(path.join(root, 'docs'))).kind, 'dir');
  assert.equal((await d.checkPath('/elsewhere/x.ts')).kind, 'outside');
  // A folder that appears after the scan is walked with the rules above it.
  mkdirSync(path.join(root, 'src', 'feature'));
  writeFileSync(path.join(root, 'src', 'feature', 'f.ts'), 'export const f = 1;\n');
  writeFileSync(path.join(root, 'src', 'feature', 'f.log'), 'x\n');
  const r = await d.scanFolder(path.join(root, 'src', 'feature'));
  assert.deepEqual(r.included.map((f) => f.path), ['src/feature/f.ts']);
  assert.equal(reasonOf(r, 'src/feature/f.log'), 'gitignore');
});

test('discovery: a folder inside a repository inherits the ignore files above it', async () => {
  const root = materialize('rules');
  const d = new Discovery(new NodeFileSystem(), [{ name: 'sub', path: path.join(root, 'sub') }]);
  const r = await d.scan();
  assert.deepEqual(r.included.map((f) => f.path).sort(), ['.gitignore', 'a.ts', 'secret-notes.txt']);
  assert.equal(reasonOf(r, 'b.tmp.ts'), 'gitignore');
});

test('discovery: several workspace folders are prefixed with their names', async () => {
  const root = materialize('multiroot');
  const d = new Discovery(new NodeFileSystem(), [
    { name: 'app', path: path.join(root, 'app') }, { name: 'lib', path: path.join(root, 'lib') },
  ]);
  const r = await d.scan();
  assert.deepEqual(r.included.map((f) => f.path).sort(), ['app/package.json', 'app/src/index.ts', 'lib/README.md', 'lib/src/index.ts']);
  assert.deepEqual(d.locate(path.join(root, 'lib', 'src', 'index.ts')), { folder: 1, rel: 'src/index.ts' });
});

test('discovery: an unreadable workspace folder is reported, not thrown', async () => {
  const d = new Discovery(new NodeFileSystem(), [{ name: 'gone', path: path.join(tempDir(), 'missing') }]);
  const r = await d.scan();
  assert.equal(r.included.length, 0);
  assert.equal(r.skipped[0].reason, 'unreadable');
});

test('discovery: chmod-unreadable files are reported when not running as root', { skip: process.getuid?.() === 0 }, async () => {
  const root = materialize('multiroot');
  const p = path.join(root, 'app', 'src', 'index.ts');
  chmodSync(p, 0);
  const r = await new Discovery(new NodeFileSystem(), [{ name: 'app', path: path.join(root, 'app') }]).scan();
  assert.equal(reasonOf(r, 'src/index.ts'), 'unreadable');
});

test('discovery: a nested repository starts its own rules; a .git file points to its git dir', async () => {
  const root = tempDir();
  const w = (rel: string, text: string) => { mkdirSync(path.dirname(path.join(root, rel)), { recursive: true }); writeFileSync(path.join(root, rel), text); };
  w('.gitignore', '*.gen\n');
  w('a.gen', 'outer rule applies\n');
  w('inner/.git/info/exclude', 'local.txt\n');
  w('inner/b.gen', 'outer rules stop at a nested repository\n');
  w('inner/local.txt', 'excluded by the inner info/exclude\n');
  // A worktree or submodule: .git is a file naming the real git dir.
  w('linked/.git', 'gitdir: ../gitdirs/linked\n');
  w('gitdirs/linked/info/exclude', 'scratch.txt\n');
  w('linked/scratch.txt', 'excluded through the gitdir file\n');
  w('linked/keep.txt', 'kept\n');
  const r = await new Discovery(new NodeFileSystem(), [{ name: 'w', path: root }]).scan();
  const paths = r.included.map((f) => f.path).sort();
  assert.ok(!paths.includes('a.gen'));
  assert.ok(paths.includes('inner/b.gen'));
  assert.equal(reasonOf(r, 'inner/local.txt'), 'git-info-exclude');
  assert.equal(reasonOf(r, 'linked/scratch.txt'), 'git-info-exclude');
  assert.ok(paths.includes('linked/keep.txt'));
  assert.equal(reasonOf(r, 'linked/.git'), 'builtin');
});
