import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { findCitations, looksLikePath, splitCitations } from '../../../src/core/chat/citations';

test('finds the common citation forms', () => {
  const text = 'a src/x.ts:10 b ./lib/y.py:3-7 c z.go#L5-L9 d docs/r.md, line 4 e C:\\w\\q.cs:2 f Makefile:8';
  const found = findCitations(text).map((c) => [c.path, c.line, c.endLine]);
  assert.deepEqual(found, [
    ['src/x.ts', 10, undefined],
    ['./lib/y.py', 3, 7],
    ['z.go', 5, 9],
    ['docs/r.md', 4, undefined],
    ['C:/w/q.cs', 2, undefined],
    ['Makefile', 8, undefined],
  ]);
});

test('offsets cover the whole citation', () => {
  const text = 'see src/a.ts:12:5 now';
  const [c] = findCitations(text);
  assert.equal(text.slice(c.start, c.start + c.length), 'src/a.ts:12:5');
  assert.deepEqual(splitCitations(text).map((p) => (typeof p === 'string' ? p : `[${p.path}@${p.line}]`)), ['see ', '[src/a.ts@12]', ' now']);
});

test('versions, hosts and URLs are not citations', () => {
  assert.deepEqual(findCitations('node 1.2.3:4, localhost:8080, example.com:443, https://h.io/a/b.js:3, x.ts:0'), []);
});

test('a range backwards keeps only the start', () => {
  const [c] = findCitations('a.ts:9-3');
  assert.equal(c.line, 9);
  assert.equal(c.endLine, undefined);
});

test('looksLikePath', () => {
  assert.ok(looksLikePath('src/a.ts'));
  assert.ok(looksLikePath('README'));
  assert.ok(!looksLikePath('hello world'));
  assert.ok(!looksLikePath('1.2.3'));
});
