// The CLI's plain repository read: git or a .gitignore-aware walk, skipping
// secrets, binaries, huge and generated files, in a stable order.
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { after, before, describe, it } from 'node:test';

import { isSecretPath, looksBinary, looksGenerated, orderPaths, readRepository, walkFiles } from '../../../src/cli/repo-reader';

let root: string;

function write(rel: string, content: string | Buffer): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
}

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkvx-repo-'));
  write('README.md', '# demo\n');
  write('src/a.ts', 'export const a = 1;\n');
  write('src/b.ts', 'export const b = 2;\n');
  write('src/gen/out.js', 'x');
  write('src/lib/.gitignore', '*.tmp\n');
  write('src/lib/keep.ts', 'keep\n');
  write('src/lib/drop.tmp', 'drop\n');
  write('.gitignore', 'src/gen/\n*.log\n');
  write('debug.log', 'log\n');
  write('.env', 'TOKEN=secret\n');
  write('.env.local', 'TOKEN=secret\n');
  write('keys/server.pem', '-----BEGIN-----\n');
  write('keys/id_rsa', 'private\n');
  write('image.png', Buffer.from([137, 80, 78, 71, 0, 0]));
  write('data.bin.txt', Buffer.from([0, 1, 2, 3]));
  write('big.txt', 'x'.repeat(300 * 1024));
  write('dist/app.min.js', `${'var a=1;'.repeat(2000)}\n`);
  write('node_modules/dep/index.js', 'dep\n');
  write('package-lock.json', '{}\n');
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('repository reader', () => {
  it('recognizes secrets, binaries and generated text', () => {
    for (const p of ['.env', 'a/.env.production', 'k/server.pem', 'id_ed25519', 'x/.npmrc', 'credentials.json', 'tls.key']) assert.ok(isSecretPath(p), p);
    for (const p of ['env.ts', 'src/environment.ts', 'keyboard.ts', 'README.md']) assert.ok(!isSecretPath(p), p);
    assert.ok(looksBinary(Buffer.from([65, 0, 66])));
    assert.ok(looksBinary(Buffer.from([0xff, 0xfe, 0x41])));
    assert.ok(!looksBinary(Buffer.from('héllo 😀', 'utf8')));
    assert.ok(looksGenerated('a'.repeat(10_000)));
    assert.ok(!looksGenerated('short\nlines\n'.repeat(1000)));
  });

  it('orders by path with the top-level README last', () => {
    assert.deepEqual(orderPaths(['src/b.ts', 'README.md', 'docs/README.md', 'a.ts']), ['a.ts', 'docs/README.md', 'src/b.ts', 'README.md']);
  });

  it('walks honoring nested .gitignore files and skipping node_modules', () => {
    const files = walkFiles(root).sort();
    assert.ok(files.includes('src/lib/keep.ts'));
    assert.ok(!files.includes('src/lib/drop.tmp'), 'nested .gitignore');
    assert.ok(!files.includes('src/gen/out.js'), 'ignored folder');
    assert.ok(!files.includes('debug.log'));
    assert.ok(!files.some((f) => f.startsWith('node_modules/')));
  });

  it('reads only the text files worth reading, without git', () => {
    const r = readRepository(root);
    assert.equal(r.source, 'walk');
    const paths = r.files.map((f) => f.path);
    assert.deepEqual(paths, ['.gitignore', 'src/a.ts', 'src/b.ts', 'src/lib/.gitignore', 'src/lib/keep.ts', 'README.md']);
    const reasons = Object.fromEntries(r.skipped.map((s) => [s.path, s.reason]));
    assert.equal(reasons['.env'], 'secret');
    assert.equal(reasons['.env.local'], 'secret');
    assert.equal(reasons['keys/server.pem'], 'secret');
    assert.equal(reasons['keys/id_rsa'], 'secret');
    assert.equal(reasons['image.png'], 'binary');
    assert.equal(reasons['data.bin.txt'], 'binary');
    assert.equal(reasons['big.txt'], 'too large');
    assert.equal(reasons['dist/app.min.js'], 'generated');
    assert.equal(reasons['package-lock.json'], 'generated');
    assert.equal(r.files[1].text, 'export const a = 1;\n');
  });

  it('uses git ls-files in a repository (tracked files only)', (t) => {
    try {
      execFileSync('git', ['--version'], { stdio: 'ignore' });
    } catch {
      t.skip('git is not installed');
      return;
    }
    const git = (...args: string[]) => execFileSync('git', ['-C', root, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { stdio: 'ignore' });
    git('init', '-q');
    git('add', 'README.md', 'src/a.ts', '.env', 'image.png');
    write('src/untracked.ts', 'new\n');
    const r = readRepository(root);
    assert.equal(r.source, 'git');
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['src/a.ts', 'README.md'],
    );
    assert.deepEqual(r.skipped.map((s) => s.path).sort(), ['.env', 'image.png']);
    fs.rmSync(path.join(root, '.git'), { recursive: true, force: true });
  });
});
