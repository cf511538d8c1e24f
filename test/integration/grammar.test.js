// The .rwkvxignore TextMate grammar, tokenized by the same engine VS Code
// uses (vscode-textmate + vscode-oniguruma, taken from code-server's VS Code
// in this folder's node_modules). Run: node --test test/integration/grammar.test.js
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');

const vscodeModules = path.join(__dirname, 'node_modules', 'code-server', 'lib', 'vscode', 'node_modules');
const grammarFile = path.join(__dirname, '..', '..', 'syntaxes', 'rwkvxignore.tmLanguage.json');

async function tokenizer() {
  const oniguruma = require(path.join(vscodeModules, 'vscode-oniguruma'));
  const textmate = require(path.join(vscodeModules, 'vscode-textmate'));
  const wasm = fs.readFileSync(path.join(vscodeModules, 'vscode-oniguruma', 'release', 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (p) => new oniguruma.OnigScanner(p), createOnigString: (s) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scope) => (scope === 'source.rwkvxignore' ? textmate.parseRawGrammar(fs.readFileSync(grammarFile, 'utf8'), grammarFile) : null),
  });
  const grammar = await registry.loadGrammar('source.rwkvxignore');
  return (text) => {
    let state = textmate.INITIAL;
    const out = [];
    for (const line of text.split('\n')) {
      const r = grammar.tokenizeLine(line, state);
      for (const t of r.tokens) out.push({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
      state = r.ruleStack;
    }
    return out;
  };
}

const scopeOf = (tokens, text) => tokens.find((t) => t.text === text)?.scopes.at(-1);

test('.rwkvxignore: comments, negation, globs, classes, escapes, separators', async () => {
  const tokenize = await tokenizer();
  const t = tokenize('# a comment\n!keep/**/*.md\n\\#not-a-comment\nbuild/[a-z]?.log\nfoo #not a comment');
  assert.equal(scopeOf(t, '#'), 'punctuation.definition.comment.rwkvxignore');
  assert.equal(scopeOf(t, ' a comment'), 'comment.line.number-sign.rwkvxignore');
  assert.equal(scopeOf(t, '!'), 'keyword.operator.negation.rwkvxignore');
  assert.equal(scopeOf(t, '**'), 'keyword.operator.glob.globstar.rwkvxignore');
  assert.equal(scopeOf(t, '*'), 'keyword.operator.glob.wildcard.rwkvxignore');
  assert.equal(scopeOf(t, '?'), 'keyword.operator.glob.wildcard.rwkvxignore');
  assert.equal(scopeOf(t, '\\#'), 'constant.character.escape.rwkvxignore');
  assert.equal(scopeOf(t, '/'), 'punctuation.separator.path.rwkvxignore');
  assert.equal(scopeOf(t, '-'), 'keyword.operator.range.rwkvxignore');
  // A # after the start of a pattern is part of the pattern, as in git.
  assert.ok(!t.some((x) => x.text.includes('#not a comment') && x.scopes.some((s) => s.startsWith('comment'))));
  // Every pattern line is a pattern.
  assert.ok(t.filter((x) => x.text === 'build').every((x) => x.scopes.includes('meta.pattern.rwkvxignore')));
});

test('the language contribution points at the grammar', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const lang = pkg.contributes.languages.find((l) => l.id === 'rwkvxignore');
  assert.deepEqual(lang.filenames, ['.rwkvxignore']);
  const g = pkg.contributes.grammars.find((x) => x.language === 'rwkvxignore');
  assert.equal(path.resolve(__dirname, '..', '..', g.path), grammarFile);
  assert.equal(JSON.parse(fs.readFileSync(grammarFile, 'utf8')).scopeName, g.scopeName);
});
