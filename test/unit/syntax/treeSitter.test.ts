// One tree-sitter loader serves both the completion trimmer and the outliner
// that splits huge files: the same instance, interleaved, gives each its answer.
import { strict as assert } from 'node:assert';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { trimSuggestion } from '../../../src/core/completion/blockEnd';
import { SyntaxOutliner } from '../../../src/core/syntax/outline';
import { grammarForFile, grammarForLanguage, TreeSitter } from '../../../src/core/syntax/treeSitter';

test('grammar names from language ids and from file names agree', () => {
  assert.equal(grammarForLanguage('typescriptreact'), 'tsx');
  assert.equal(grammarForFile('src/App.TSX'), 'tsx');
  assert.equal(grammarForLanguage('cuda-cpp'), grammarForFile('k.cu'));
  assert.equal(grammarForLanguage('shellscript'), grammarForFile('run.sh'));
  assert.equal(grammarForLanguage('plaintext'), undefined);
  assert.equal(grammarForFile('notes.txt'), undefined);
});

test('completions and the outliner share one loader, interleaved', async () => {
  const ts = await TreeSitter.create();
  assert.ok(ts.available, `tree-sitter failed to load: ${ts.failure}`);
  const outliner = new SyntaxOutliner(ts);
  const py = 'def a():\n    return 1\n\n\ndef b():\n    return 2\n';
  const tsText = 'export const x = 1;\n\nexport function f() {\n  return x;\n}\n';
  const prefix = 'function add(a: number, b: number) {\n  ';
  const suggestion = 'return a + b;\n}\n\nfunction sub(a: number) {\n  return -a;\n}\n';
  // Two grammars asked for at once through the same parser.
  const [pyCuts, trimmed, tsCuts] = await Promise.all([
    outliner.boundaries('a.py', py),
    trimSuggestion({ prefix, suggestion, suffix: '', languageId: 'typescript' }, ts),
    outliner.boundaries('x.ts', tsText),
  ]);
  assert.deepEqual(pyCuts, [2], 'the cut follows the first function (blank lines go with the next)');
  assert.equal(trimmed, 'return a + b;\n}');
  assert.deepEqual(tsCuts, [1]);
  assert.equal(await outliner.boundaries('notes.txt', 'a\n\nb\n'), undefined);
});

test('a missing grammar folder leaves the loader answering undefined, with the reason', async () => {
  const ts = await TreeSitter.create({ grammarDir: path.join(os.tmpdir(), 'rwkvx-no-grammars-here') });
  assert.ok(ts.available);
  const outliner = new SyntaxOutliner(ts);
  assert.equal(await outliner.boundaries('a.py', 'def a():\n    pass\n'), undefined);
  assert.match(ts.failure ?? '', /grammar python/);
  // The completion trimmer falls back to indentation instead of failing.
  const out = await trimSuggestion({ prefix: 'def f():\n    ', suggestion: 'return 1\n\ndef g():\n    pass\n', suffix: '', languageId: 'python' }, ts);
  assert.equal(out, 'return 1');
});
