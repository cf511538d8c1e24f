import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTest, localImports, orderFiles, pickHot, stableTopoSort, testSubjectStem, DEFAULT_ORDER } from '../../../src/core/context/order';
import { splitByBoundaries, splitFile, blankLineBoundaries } from '../../../src/core/context/split';
import { SyntaxOutliner } from '../../../src/core/syntax/outline';
import { Discovery } from '../../../src/core/workspace/discovery';
import { NodeFileSystem } from '../../../src/core/workspace/nodeFs';
import { materialize } from './helpers';

const NOW = 1_700_000_000_000;
const DAY = 24 * 3600_000;

async function orderingFiles() {
  const root = materialize('ordering');
  const r = await new Discovery(new NodeFileSystem(), [{ name: 'ordering', path: root }]).scan();
  // Everything was "checked out" long ago: mtimes carry no recency.
  return r.included.map((f) => ({ ...f, mtimeMs: NOW - 30 * DAY }));
}

test('order: overview first, code by folder with imports before importers, tests after their subject, hot last', async () => {
  const files = await orderingFiles();
  const ordered = orderFiles(files, { ...DEFAULT_ORDER, now: NOW, recentEdits: ['src/app.ts'] });
  assert.deepEqual(ordered.map((o) => `${o.tier}:${o.file.path}`), [
    'overview:README.md',
    'overview:package.json',
    'overview:src/README.md',
    'code:docs/guide.md',
    'code:src/util/math.ts',
    'code:src/util/strings.ts',
    'test:test/math.test.ts',
    'code:src/core/engine.ts',
    'code:src/core/index.ts',
    'test:test/engine.test.ts',
    'code:tools/helpers.py',
    'code:tools/build.py',
    'test:test/orphan.test.ts',
    'hot:src/app.ts',
  ]);
});

test('order: recent mtimes make the hot tail, unless nearly everything is recent (a fresh clone)', async () => {
  const files = await orderingFiles();
  const touched = files.map((f) => (f.path === 'src/util/math.ts' ? { ...f, mtimeMs: NOW - 60_000 } : f.path === 'tools/build.py' ? { ...f, mtimeMs: NOW - 3600_000 } : f));
  const hot = pickHot(touched, { ...DEFAULT_ORDER, now: NOW });
  assert.deepEqual(hot.map((f) => f.path), ['tools/build.py', 'src/util/math.ts'], 'most recent last');
  const fresh = files.map((f) => ({ ...f, mtimeMs: NOW - 1000 }));
  assert.deepEqual(pickHot(fresh, { ...DEFAULT_ORDER, now: NOW }), []);
  const many = files.map((f, i) => ({ ...f, mtimeMs: NOW - 1000 * i }));
  assert.equal(pickHot(many, { ...DEFAULT_ORDER, now: NOW, recentMaxShare: 1, hotFiles: 3 }).length, 3);
});

test('order: test detection, subjects and relative imports', () => {
  for (const t of ['a/foo.test.ts', 'test_foo.py', 'pkg/foo_test.go', 'FooTest.java', 'tests/helpers.py', 'x.spec.js']) assert.ok(isTest(t), t);
  for (const c of ['src/contest.ts', 'src/testing-utils.md'.replace('testing-', ''), 'lib/latest.py']) assert.ok(!isTest(c), c);
  assert.equal(testSubjectStem('a/foo.test.ts'), 'foo');
  assert.equal(testSubjectStem('test_foo.py'), 'foo');
  assert.equal(testSubjectStem('FooTest.java'), 'Foo');
  const exists = (p: string) => ['src/a.ts', 'src/b/index.ts', 'pkg/mod.py', 'inc/x.h', 'src/m.rs'].includes(p);
  assert.deepEqual(localImports('src/c.ts', 'import { a } from "./a";\nconst b = require("./b");', exists), ['src/a.ts', 'src/b/index.ts']);
  assert.deepEqual(localImports('pkg/run.py', 'from .mod import f\n', exists), ['pkg/mod.py']);
  assert.deepEqual(localImports('inc/y.c', '#include "x.h"\n#include <stdio.h>\n', exists), ['inc/x.h']);
  assert.deepEqual(localImports('src/lib.rs', 'mod m;\n', exists), ['src/m.rs']);
});

test('order: topological sort is stable and survives cycles', () => {
  const deps = new Map([['b', new Set(['c'])], ['c', new Set(['b'])], ['d', new Set(['a'])]]);
  // b and c wait on each other: d (ready once a is out) goes first, then the cycle breaks at b.
  assert.deepEqual(stableTopoSort(['a', 'b', 'c', 'd'], deps), ['a', 'd', 'b', 'c']);
  const deps2 = new Map([['a', new Set(['d'])]]);
  assert.deepEqual(stableTopoSort(['a', 'b', 'c', 'd'], deps2), ['b', 'c', 'd', 'a']);
});

function bigTs(n: number, tweak?: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const body = i === tweak ? `  const x = a * ${i} + 7;\n  // changed\n` : `  const x = a * ${i};\n`;
    s += `// Doubles and shifts value number ${i}.\nexport function f${i}(a: number): number {\n${body}\n  return x + 1;\n}\n\n`;
  }
  return s;
}

test('split: small files stay whole; huge files split at declaration boundaries (tree-sitter)', async () => {
  const outliner = await SyntaxOutliner.create();
  assert.ok(outliner.available, 'web-tree-sitter loads in Node');
  const small = await splitFile('a.ts', 'export const a = 1;\n', outliner);
  assert.equal(small.length, 1);
  assert.equal(small[0].part, 0);
  const text = bigTs(600);
  const parts = await splitFile('big.ts', text, outliner);
  assert.ok(parts.length >= 3, `expected several parts, got ${parts.length}`);
  assert.equal(parts.map((p) => p.body).join(''), text, 'parts concatenate to the file');
  parts.forEach((p, i) => {
    assert.equal(p.part, i + 1);
    assert.equal(p.parts, parts.length);
    if (i > 0) assert.match(p.body, /^\n?\/\/ Doubles/, 'each part starts at a declaration (with its comment)');
    assert.ok(p.body.length <= 24 * 1024);
  });
  // An edit inside one function changes only the part that holds it.
  const edited = await splitFile('big.ts', bigTs(600, 300), outliner);
  assert.equal(edited.length, parts.length);
  const changed = edited.filter((p, i) => p.hash !== parts[i].hash);
  assert.equal(changed.length, 1);
  assert.match(changed[0].body, /changed/);
});

test('split: without a grammar, blank lines before unindented lines are the boundaries', () => {
  const text = Array.from({ length: 400 }, (_, i) => `Section ${i}\n  detail line one for section ${i}\n  detail line two\n`).join('\n');
  const cuts = blankLineBoundaries(text);
  assert.ok(cuts.length > 300);
  const parts = splitByBoundaries(text, cuts, { splitAboveBytes: 8 * 1024, targetPartBytes: 4096, maxPartBytes: 8192 });
  assert.ok(parts.length > 3);
  assert.equal(parts.map((p) => p.body).join(''), text);
  for (const p of parts.slice(1)) assert.match(p.body, /^Section \d+/);
  // A long stretch without any boundary still gets cut, at line starts.
  const flat = 'x'.repeat(100).concat('\n').repeat(1000);
  const hard = splitByBoundaries(flat, [], { splitAboveBytes: 8192, targetPartBytes: 4096, maxPartBytes: 8192 });
  assert.ok(hard.length > 10);
  assert.equal(hard.map((p) => p.body).join(''), flat);
  for (const p of hard) assert.ok(p.body.endsWith('\n'));
});

test('order: a file turning hot does not reorder the others (compaction reuses the prefix)', async () => {
  const files = await orderingFiles();
  const cold = orderFiles(files, { ...DEFAULT_ORDER, now: NOW }).map((o) => o.file.path);
  for (const hotPath of ['src/util/math.ts', 'src/core/index.ts', 'README.md']) {
    const withHot = orderFiles(files, { ...DEFAULT_ORDER, now: NOW, recentEdits: [hotPath] }).map((o) => o.file.path);
    assert.deepEqual(withHot, [...cold.filter((p) => p !== hotPath), hotPath]);
  }
});
