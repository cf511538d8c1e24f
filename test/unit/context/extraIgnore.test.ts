// The settings' extra ignore patterns, in .gitignore syntax: the strongest
// ignore layer of each workspace folder (after .gitignore and .rwkvxignore).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Discovery, type DiscoveryReport } from '../../../src/core/workspace/discovery';
import { expandBraces } from '../../../src/core/workspace/ignoreLayers';
import { NodeFileSystem } from '../../../src/core/workspace/nodeFs';
import { decodeStream, openLog } from './helpers';
import { makeWorkspace, writeFile } from './workspaceGen';

function tree(): string {
  return makeWorkspace({
    '.gitignore': '*.tmp\n',
    'README.md': '# Extra\n',
    'a.snap': 'snap\n',
    'src/a.ts': 'export const a = 1;\n',
    'src/deep/b.snap': 'snap\n',
    'src/build/out.ts': 'export const nested = 1;\n',
    'build/out.ts': 'export const top = 1;\n',
    'fixtures/one.json': '{}\n',
    'src/fixtures': 'a file named fixtures, not a folder\n',
    'pkg/gen/x/y.ts': 'export const gen = 1;\n',
    'gen.ts': 'export const notGen = 1;\n',
    'logs/a.log': 'a\n',
    'logs/keep.log': 'keep\n',
    'important.tmp': 'needed\n',
    'other.tmp': 'scratch\n',
    'yarn.lock': 'lock\n',
  });
}

async function scan(root: string, extraIgnore: string[]): Promise<{ d: Discovery; report: DiscoveryReport; included: string[] }> {
  const d = new Discovery(new NodeFileSystem(), [{ name: 'ws', path: root, extraIgnore }]);
  const report = await d.scan();
  return { d, report, included: report.included.map((f) => f.path).sort() };
}

const PATTERNS = ['*.snap', 'fixtures/', '/build', '**/gen/**', 'logs/*.log', '!logs/keep.log', '!important.tmp', '*.{lock,lockb}'];

test('extra ignore: gitignore syntax (any depth, dir/, anchored /x, **, negation)', async () => {
  const root = tree();
  const { report, included } = await scan(root, PATTERNS);
  assert.deepEqual(included, [
    '.gitignore', 'README.md', 'gen.ts', 'important.tmp', 'logs/keep.log', 'src/a.ts', 'src/build/out.ts', 'src/fixtures',
  ]);
  const reason = (p: string) => report.skipped.find((s) => s.path === p);
  for (const p of ['a.snap', 'src/deep/b.snap', 'fixtures/', 'build/', 'pkg/gen/x/', 'logs/a.log', 'yarn.lock']) {
    assert.equal(reason(p)?.reason, 'extra-ignore', p);
  }
  assert.match(reason('build/')!.detail!, /^\/build \(setting rwkvx\.context\.extraIgnore\)$/);
  // .gitignore still applies to what the settings do not re-include.
  assert.equal(reason('other.tmp')?.reason, 'gitignore');
});

test('extra ignore: without patterns nothing changes; comments and blank lines are no rules', async () => {
  const root = tree();
  const plain = await scan(root, []);
  const commented = await scan(root, ['# *.ts', '   ', '']);
  assert.deepEqual(commented.included, plain.included);
  assert.ok(plain.included.includes('a.snap') && plain.included.includes('build/out.ts'));
  assert.ok(!plain.included.includes('important.tmp'));
});

test('extra ignore: single paths after events are judged the same way; reset takes new patterns', async () => {
  const root = tree();
  const { d } = await scan(root, PATTERNS);
  const kind = async (rel: string) => {
    const v = await d.checkPath(path.join(root, rel));
    return v.kind === 'skipped' ? v.entry.reason : v.kind;
  };
  assert.equal(await kind('src/deep/b.snap'), 'extra-ignore');
  assert.equal(await kind('pkg/gen/x/y.ts'), 'extra-ignore');
  assert.equal(await kind('logs/keep.log'), 'file');
  assert.equal(await kind('important.tmp'), 'file');
  assert.equal(await kind('src/build/out.ts'), 'file');
  writeFile(root, 'src/deep/new.snap', 'snap\n');
  assert.equal(await kind('src/deep/new.snap'), 'extra-ignore');
  d.reset([{ name: 'ws', path: root, extraIgnore: ['src/'] }]);
  assert.equal(await kind('src/deep/b.snap'), 'extra-ignore');
  assert.equal(await kind('a.snap'), 'file');
  assert.equal(await kind('important.tmp'), 'gitignore');
});

test('extra ignore: braces are written out; escaped and single-item braces stay literal', () => {
  assert.deepEqual(expandBraces('*.{snap,lock}'), ['*.snap', '*.lock']);
  assert.deepEqual(expandBraces('{a,b}/{c,d}.ts'), ['a/c.ts', 'a/d.ts', 'b/c.ts', 'b/d.ts']);
  assert.deepEqual(expandBraces('x{a,{b,c}}'), ['xa', 'xb', 'xc']);
  assert.deepEqual(expandBraces('!keep.{log,txt}'), ['!keep.log', '!keep.txt']);
  assert.deepEqual(expandBraces('weird{x}.ts'), ['weird{x}.ts']);
  assert.deepEqual(expandBraces('\\{a,b}.ts'), ['\\{a,b}.ts']);
});

test('extra ignore: a settings event with new patterns takes files out of the context and puts others back', async () => {
  const root = tree();
  const h = await openLog([{ name: 'ws', path: root }]);
  const live = () => decodeStream(h).filter((d) => !d.stale && d.kind === 'file').map((d) => d.path);
  assert.ok(live().includes('a.snap'));
  assert.ok(!live().includes('important.tmp'));
  h.log.notify({ type: 'settings', folders: [{ name: 'ws', path: root, extraIgnore: ['*.snap', '!important.tmp'] }] });
  await h.log.flush();
  assert.ok(!live().includes('a.snap'));
  assert.ok(!live().includes('src/deep/b.snap'));
  assert.ok(live().includes('important.tmp'));
  assert.equal(h.log.status().skipped['extra-ignore'], 2);
  await h.log.dispose();
});
