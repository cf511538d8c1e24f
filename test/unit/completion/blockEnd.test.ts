import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';

import { trimByIndent, trimSuggestion } from '../../../src/core/completion/blockEnd';
import { TreeSitter } from '../../../src/core/syntax/treeSitter';

let ts: TreeSitter;
before(async () => {
  ts = await TreeSitter.create();
  assert.ok(ts.available, `tree-sitter failed to load: ${ts.failure}`);
});

test('stops a TypeScript suggestion at the end of the function body (end of file keeps the brace)', async () => {
  const prefix = 'function add(a: number, b: number) {\n  ';
  const suggestion = 'const s = a + b;\n  return s;\n}\n\nfunction sub(a: number) {\n  return -a;\n}\n';
  assert.equal(await trimSuggestion({ prefix, suggestion, suffix: '', languageId: 'typescript' }, ts), 'const s = a + b;\n  return s;\n}');
});

test('inside a document the closing brace already exists after the cursor', async () => {
  const prefix = 'class A {\n  m() {\n    ';
  const suggestion = 'this.x = 1;\n    this.y = 2;\n  }\n  n() {}\n';
  const suffix = '\n  other() {}\n}\n';
  assert.equal(await trimSuggestion({ prefix, suggestion, suffix, languageId: 'typescript' }, ts), 'this.x = 1;\n    this.y = 2;');
});

test('at the top level one declaration is completed', async () => {
  const prefix = 'import x from "y";\n\n';
  const suggestion = 'export function f() {\n  return x;\n}\n\nexport const g = 2;\n';
  assert.equal(await trimSuggestion({ prefix, suggestion, suffix: '', languageId: 'javascript' }, ts), 'export function f() {\n  return x;\n}');
});

test('python blocks end where the indentation says', async () => {
  const prefix = 'def f(x):\n    ';
  const suggestion = 'y = x * 2\n    return y\n\ndef g():\n    pass\n';
  assert.equal(await trimSuggestion({ prefix, suggestion, suffix: '', languageId: 'python' }, ts), 'y = x * 2\n    return y');
});

test('an unclosed block (generation hit its limit) is kept whole', async () => {
  const prefix = 'function f() {\n  ';
  const suggestion = 'let a = 1;\n  let b = 2;\n  if (a) {\n    b++;';
  assert.equal(await trimSuggestion({ prefix, suggestion, suffix: '', languageId: 'typescript' }, ts), suggestion);
});

test('text after the cursor on its line allows one line, without repeating it', async () => {
  const prefix = 'foo(';
  assert.equal(await trimSuggestion({ prefix, suggestion: 'a, b)\nbar();', suffix: ')\nnext();', languageId: 'typescript' }, ts), 'a, b');
});

test('single-line suggestions lose trailing spaces; blank ones are empty', async () => {
  assert.equal(await trimSuggestion({ prefix: 'x = ', suggestion: '42   ', suffix: '', languageId: 'plaintext' }), '42');
  assert.equal(await trimSuggestion({ prefix: 'x = ', suggestion: ' \n \n', suffix: '', languageId: 'plaintext' }), '');
});

test('without a grammar the indentation rule applies', async () => {
  const prefix = 'fn main() {\n    ';
  const suggestion = 'let a = 1;\n    println!("{}", a);\n}\n\nfn other() {}';
  // "rust-unknown" has no grammar mapping: falls back.
  assert.equal(await trimSuggestion({ prefix, suggestion, suffix: '', languageId: 'rust-unknown' }, ts), 'let a = 1;\n    println!("{}", a);\n}');
  assert.equal(trimByIndent({ prefix, suggestion, suffix: '\n}\n', languageId: 'x' }), 'let a = 1;\n    println!("{}", a);');
  // Two blank lines end a suggestion too.
  assert.equal(trimByIndent({ prefix: '', suggestion: 'a\nb\n\n\nc', suffix: '', languageId: 'x' }), 'a\nb');
});

test('non-ASCII text before the cursor does not shift the block', async () => {
  const prefix = 'const é = "ü";\nfunction f() {\n  ';
  const suggestion = 'return é;\n}\nfunction g() {}\n';
  assert.equal(await trimSuggestion({ prefix, suggestion, suffix: '', languageId: 'typescript' }, ts), 'return é;\n}');
});
