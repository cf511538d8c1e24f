import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parsePyLiteral } from '../../../src/core/tokenizer/pyLiteral';
import { WorldTokenizer } from '../../../src/core/tokenizer/worldTokenizer';

const VOCAB = path.resolve(__dirname, '../../../../../shared/vocab/rwkv_vocab_v20230424.txt');

test('python literals of the vocabulary file', () => {
  assert.deepEqual([...parsePyLiteral(`'\\n\\n'`)], [10, 10]);
  assert.deepEqual([...parsePyLiteral(`b'\\xe4\\xb8'`)], [0xe4, 0xb8]);
  assert.deepEqual([...parsePyLiteral(`'\\x00'`)], [0]);
  assert.deepEqual([...parsePyLiteral(`'\\xe9'`)], [0xc3, 0xa9], 'str \\xHH is a code point, UTF-8 encoded');
  assert.deepEqual([...parsePyLiteral(`"it's"`)], [...Buffer.from("it's")]);
  assert.deepEqual([...parsePyLiteral(`'\\u2002'`)], [0xe2, 0x80, 0x82]);
  assert.deepEqual([...parsePyLiteral(`'你'`)], [...Buffer.from('你')]);
  assert.throws(() => parsePyLiteral('x'));
});

test('greedy longest match on a small vocabulary', () => {
  const lines = Array.from({ length: 256 }, (_, b) => `${b + 1} b'\\x${b.toString(16).padStart(2, '0')}' 1`);
  lines.push(`257 'ab' 2`, `258 'abc' 3`, `259 'bcd' 3`);
  const t = WorldTokenizer.fromText(lines.join('\n'));
  // Greedy: "abc" first, then "d" (not "a" + "bcd").
  assert.deepEqual([...t.encode('abcd')], [258, 'd'.charCodeAt(0) + 1]);
  assert.deepEqual([...t.encode('abx')], [257, 'x'.charCodeAt(0) + 1]);
  assert.equal(t.decode(t.encode('abcabd\u00e9')), 'abcabd\u00e9');
  assert.throws(() => WorldTokenizer.fromText(`1 'a' 1`), /single byte/);
});

test('the World vocabulary: known ids and a lossless round trip', { skip: !existsSync(VOCAB) && 'shared vocabulary not present' }, () => {
  const t = WorldTokenizer.fromFile(VOCAB);
  assert.equal(t.vocabSize, 65530);
  assert.deepEqual([...t.encode('\n\n')], [261], 'the turn separator of the chat format');
  const text = 'export function main(): void {\n  console.log("héllo, 世界");\n}\n';
  const ids = t.encode(text);
  assert.ok(ids.length < Buffer.byteLength(text) / 2, 'merges many bytes per token');
  assert.equal(t.decode(ids), text);
});
