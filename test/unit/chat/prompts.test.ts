import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { findCitations } from '../../../src/core/chat/citations';
import { chatPrompt, explainQuestion, locationsMarkdown, whereQuestion } from '../../../src/core/chat/prompts';
import { findSymbol } from '../../../src/core/chat/symbols';

test('chat prompt: newest history that fits, blank lines folded, ends at the answer', () => {
  const history = [
    { question: 'first?', answer: 'one' },
    { question: 'second\n\n\nquestion', answer: 'two\n\nparas' },
  ];
  assert.equal(chatPrompt(history, 'third?'), 'User: first?\n\nAssistant: one\n\nUser: second\nquestion\n\nAssistant: two\nparas\n\nUser: third?\n\nAssistant:');
  // Only the newest turn fits.
  assert.equal(chatPrompt(history, 'q', 50), 'User: second\nquestion\n\nAssistant: two\nparas\n\nUser: q\n\nAssistant:');
});

test('explain question names the place as a citation', () => {
  const q = explainQuestion({ path: 'src/a.ts', startLine: 3, endLine: 9, languageId: 'typescript', code: 'let a = 1;\n\n' });
  assert.match(q, /src\/a.ts:3-9/);
  assert.match(q, /```typescript\nlet a = 1;\n```$/);
  assert.equal(findCitations(q)[0].endLine, 9);
});

test('locations become citation links', () => {
  const md = locationsMarkdown('foo', [{ path: 'a.ts', line: 2, text: 'function foo() {' }], [{ path: 'b.ts', line: 7 }, { path: 'c.ts', line: 1 }], 1);
  assert.deepEqual(findCitations(md).map((c) => `${c.path}:${c.line}`), ['a.ts:2', 'b.ts:7']);
  assert.match(md, /… and 1 more/);
  assert.match(whereQuestion('foo', [], []), /Definitions: none found/);
});

test('finds definitions and uses across languages, whole words only', () => {
  const files = [
    { path: 'a.ts', text: 'export function parseThing(x: string) {\n  return x;\n}\nconst y = parseThing("a");\nparseThings();' },
    { path: 'b.py', text: 'def parseThing(x):\n    pass\n\nparseThing(1)\n' },
    { path: 'c.c', text: 'static int parseThing(const char *s) {\n}\nint main() { return parseThing("x"); }' },
    { path: 'd.ts', text: 'class K {\n  parseThing(a: number): void {\n  }\n  other = parseThing;\n}\nlet parseThing2 = 1;' },
    { path: 'e.js', text: 'parseThing = () => 1;\nif (parseThing == 2) {}' },
  ];
  const r = findSymbol(files, 'parseThing');
  assert.deepEqual(r.definitions.map((l) => `${l.path}:${l.line}`), ['a.ts:1', 'b.py:1', 'c.c:1', 'd.ts:2', 'e.js:1']);
  assert.deepEqual(r.uses.map((l) => `${l.path}:${l.line}`), ['a.ts:4', 'b.py:4', 'c.c:3', 'd.ts:4', 'e.js:2']);
  assert.deepEqual(findSymbol(files, 'not a word'), { definitions: [], uses: [] });
});
