import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { CompletionCache } from '../../../src/core/completion/cache';
import { Lru } from '../../../src/core/completion/lru';

test('lru evicts the least recently used', () => {
  const l = new Lru<string, number>(2);
  l.set('a', 1);
  l.set('b', 2);
  assert.equal(l.get('a'), 1); // a is now newest
  l.set('c', 3);
  assert.equal(l.peek('b'), undefined);
  assert.deepEqual([...l.entriesNewestFirst()].map(([k]) => k), ['c', 'a']);
  assert.throws(() => new Lru(0));
});

test('an exact position hits', () => {
  const c = new CompletionCache();
  c.put({ document: 'd', prefix: 'function f() {\n  ', lineSuffix: '' }, 'return 1;\n}');
  assert.deepEqual(c.get({ document: 'd', prefix: 'function f() {\n  ', lineSuffix: '' }), { text: 'return 1;\n}', typed: 0 });
});

test('typing the start of a suggestion reuses the rest', () => {
  const c = new CompletionCache();
  const p = 'const total = ';
  c.put({ document: 'd', prefix: p, lineSuffix: '' }, 'items.reduce((a, b) => a + b, 0);');
  assert.deepEqual(c.get({ document: 'd', prefix: p + 'items.re', lineSuffix: '' }), { text: 'duce((a, b) => a + b, 0);', typed: 8 });
  // Typing something else misses.
  assert.equal(c.get({ document: 'd', prefix: p + 'itemz', lineSuffix: '' }), undefined);
  // Typing all of it leaves nothing to offer.
  assert.equal(c.get({ document: 'd', prefix: p + 'items.reduce((a, b) => a + b, 0);', lineSuffix: '' }), undefined);
  assert.equal(c.hits, 1);
  assert.equal(c.misses, 2);
});

test('a different document, line suffix or earlier text misses', () => {
  const c = new CompletionCache();
  c.put({ document: 'd', prefix: 'let x = ', lineSuffix: ')' }, 'foo');
  assert.equal(c.get({ document: 'e', prefix: 'let x = f', lineSuffix: ')' }), undefined);
  assert.equal(c.get({ document: 'd', prefix: 'let x = f', lineSuffix: '' }), undefined);
  assert.equal(c.get({ document: 'd', prefix: 'let y = f', lineSuffix: ')' }), undefined);
  assert.deepEqual(c.get({ document: 'd', prefix: 'let x = f', lineSuffix: ')' }), { text: 'oo', typed: 1 });
});

test('long prefixes compare their tails with the offset', () => {
  const c = new CompletionCache();
  const head = 'x'.repeat(10_000);
  c.put({ document: 'd', prefix: head + 'abc', lineSuffix: '' }, 'def');
  assert.deepEqual(c.get({ document: 'd', prefix: head + 'abcd', lineSuffix: '' }), { text: 'ef', typed: 1 });
  // Same tail but the text above grew: a different position.
  assert.equal(c.get({ document: 'd', prefix: 'y' + head + 'abcd', lineSuffix: '' }), undefined);
});

test('forget drops a document; capacity bounds the cache', () => {
  const c = new CompletionCache(2);
  c.put({ document: 'a', prefix: '1', lineSuffix: '' }, 'x');
  c.put({ document: 'b', prefix: '1', lineSuffix: '' }, 'y');
  c.put({ document: 'b', prefix: '2', lineSuffix: '' }, 'z');
  assert.equal(c.size, 2);
  assert.equal(c.get({ document: 'a', prefix: '1', lineSuffix: '' }), undefined);
  c.forget('b');
  assert.equal(c.size, 0);
});
