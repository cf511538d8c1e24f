// The pure parts of npm run eval:model (tools/eval): validation split and
// layout as in tools/train/data.py, window choice, the bits-per-byte
// arithmetic, identifier definitions and first uses, answer checks, and the
// choice of cross-file positions on a made-up repository.
import assert from 'node:assert/strict';
import * as path from 'path';
import { describe, it } from 'node:test';

import { repoRoot } from '../engine/fixtures';

/* eslint-disable @typescript-eslint/no-explicit-any */
const h = require(path.join(repoRoot(), 'tools', 'eval', 'helpers.js')) as any;
const { selectInRepo } = require(path.join(repoRoot(), 'tools', 'eval', 'crossfile.js')) as any;
const { haystack, buildTrial } = require(path.join(repoRoot(), 'tools', 'eval', 'passkey.js')) as any;

describe('eval helpers', () => {
  it('picks the validation repositories of data.is_val_repo', () => {
    for (const r of ['babel/babel', 'colinhacks/zod', 'mikro-orm/mikro-orm', 'BurntSushi/ripgrep']) assert.equal(h.isValRepo(r), true, r);
    for (const r of ['angular/angular-cli', 'bevyengine/bevy', 'babel/babel2']) assert.equal(h.isValRepo(r), false, r);
  });

  it('lays out a file as the context log does', () => {
    assert.equal(h.filePiece('src/a.ts', 'x = 1'), 'File: src/a.ts\nx = 1\n\n');
  });

  it('spreads windows as data.val_windows (numpy.linspace, floored), every Kth kept', () => {
    // numpy: np.linspace(0, 3589, 64).astype(int64)[::8] on the 7,352,356-token stream.
    assert.deepEqual(h.windowStarts(7352356, 2048, 64, 8).map((s: number) => s / 2048), [0, 455, 911, 1367, 1822, 2278, 2734, 3190]);
    assert.deepEqual(h.windowStarts(41, 10, 8), [0, 10, 20, 30], 'at most as many windows as fit (4 of 11 tokens)');
    assert.deepEqual(h.windowStarts(40, 10, 8), [0, 10, 20], 'a window needs seqLen + 1 tokens');
    assert.deepEqual(h.windowStarts(100, 10, 1), [0]);
    assert.deepEqual(h.windowStarts(5, 10, 4), []);
  });

  it('computes cross-entropy stably and bits per byte', () => {
    const uniform = new Float32Array(8).fill(3);
    assert.ok(Math.abs(h.crossEntropy(uniform, 0, 8, 5) - Math.log(8)) < 1e-12);
    const two = Float32Array.of(9, 0, Math.log(3));
    assert.ok(Math.abs(h.crossEntropy(two, 1, 2, 1) - -Math.log(3 / 4)) < 1e-7, 'offset row [0, ln 3], target 1');
    const big = Float32Array.of(1000, 0);
    assert.ok(Math.abs(h.crossEntropy(big, 0, 2, 1) - 1000) < 1e-9, 'no overflow');
    assert.equal(h.bitsPerByte(8 * Math.LN2, 4), 2);
    assert.ok(Number.isNaN(h.bitsPerByte(1, 0)));
    assert.equal(h.argmax(Float32Array.of(1, 5, 5, 2)), 1, 'first on ties');
  });

  it('finds exported top-level definitions only', () => {
    const text = [
      'export function foo() {}',
      'export default class Bar {}',
      'function local() {}',
      '  export const inner = 1',
      'export const enum E {}',
      'export type from = 1',
      'pub(crate) fn baz() {}',
      'pub struct Qux;',
      'fn private_fn() {}',
      'def _hidden(): pass',
      'class Public: pass',
      'func (r *T) Method() {}',
      'func lower() {}',
      'type Thing struct {}',
    ].join('\n');
    assert.deepEqual([...h.definitionsOf(text)].sort(), ['Bar', 'E', 'Method', 'Public', 'Qux', 'Thing', 'baz', 'foo']);
  });

  it('lists first uses of names, header included, numbers skipped', () => {
    const piece = h.filePiece('src/foo.ts', 'bar(foo, 12, bar2);\nbar(x1)');
    const uses = h.firstUses(piece).map((u: { name: string; index: number }) => [u.name, piece.slice(u.index, u.index + u.name.length)]);
    assert.deepEqual(uses.map((u: string[]) => u[0]), ['File', 'src', 'foo', 'ts', 'bar', 'bar2', 'x1']);
    for (const [name, at] of uses) assert.equal(at, name);
  });

  it('cuts a prompt before the whitespace that leads to the identifier, and reads the answer', () => {
    const text = 'import {\n  Thing } from';
    const i = text.indexOf('Thing');
    assert.equal(text.slice(0, h.promptEnd(text, i)), 'import {');
    assert.equal(h.promptEnd('x.y', 2), 2);
    assert.deepEqual(h.predictedIdentifier('\n  Thing,'), { name: 'Thing', complete: true });
    assert.deepEqual(h.predictedIdentifier(' Thi'), { name: 'Thi', complete: false });
    assert.deepEqual(h.predictedIdentifier(' ('), { name: '', complete: true });
    assert.equal(h.passkeyAnswer(' 48213. Remember'), '48213');
    assert.equal(h.passkeyAnswer(' 482130'), '482130', 'all digits count: a longer number is not the key');
    assert.equal(h.passkeyAnswer(' the key'), '');
    assert.equal(h.needleLine(48213), '// The passkey is 48213. Remember it.\n');
    assert.equal(h.needleLine(48213, 'code'), 'const PASSKEY = "48213";\n');
    assert.equal(h.PASSKEY_FORMS.code.candidate(48213), '48213');
  });

  it('has a deterministic PRNG and shuffle', () => {
    const a = h.prng(7);
    const b = h.prng(7);
    const xs = Array.from({ length: 5 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.notEqual(h.seedOf(1, 'x'), h.seedOf(1, 'y'));
    const s = h.shuffled([1, 2, 3, 4, 5, 6], h.prng(3));
    assert.deepEqual([...s].sort(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(s, h.shuffled([1, 2, 3, 4, 5, 6], h.prng(3)));
  });

  it('tells identifiers from everyday words', () => {
    for (const n of ['ErrorKind', 'isValidIdentifier', 'file_name', 'MikroORM', 'Config']) assert.equal(h.isDistinctive(n), true, n);
    for (const n of ['write', 'schema', 'time', '_private', 'trailing_']) assert.equal(h.isDistinctive(n), false, n);
  });

  it('compares folders and knows test fixtures', () => {
    assert.equal(h.sharedFolders('a/b/c.ts', 'a/b/d/e.ts'), 2);
    assert.equal(h.sharedFolders('x.ts', 'a/y.ts'), 0);
    assert.equal(h.isFixture('packages/p/test/fixtures/a/input.js'), true);
    assert.equal(h.isFixture('src/fixture.ts'), false);
  });

  it('writes a markdown table', () => {
    assert.equal(h.markdownTable(['a', 'b'], [['1', '2']], ['l', 'r']), '| a | b |\n| --- | ---: |\n| 1 | 2 |');
  });
});

// A byte-level stand-in for the model's tokenizer: token = byte + 1.
const byteRunner = {
  byteLen: new Int32Array(257).fill(1),
  tokenize: (s: string) => Int32Array.from(Buffer.from(s, 'utf8'), (b) => b + 1),
  model: { tokenBytes: (t: number) => Uint8Array.of(t - 1) },
};
const detok = (t: Int32Array) => Buffer.from(Array.from(t, (x) => x - 1)).toString('utf8');

describe('passkey trials', () => {
  const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `let ${tag}${i} = ${i};`).join('\n');
  const files = ['a', 'b', 'c', 'd'].map((t) => ({ path: `src/${t}.ts`, lang: 'typescript', text: lines(40, t) }));
  const repos = [{ repo: 'me/app', files: files.map((f) => ({ ...f, tokens: byteRunner.tokenize(h.filePiece(f.path, f.text)) })) }];
  for (const [form, depth] of [['sentence', 0], ['sentence', 0.5], ['sentence', 0.9], ['code', 0.5]] as const) {
    it(`puts the ${form} needle at a line start near depth ${depth} and asks at the end`, () => {
      const q = h.PASSKEY_FORMS[form].question;
      const needle = h.needleLine(48213, form);
      const hay = haystack(repos, 1500, 7);
      const t = buildTrial(byteRunner, hay, 1200, depth, 48213, byteRunner.tokenize(q), form);
      const all = new Int32Array(hay.cum[t.file] + t.tokens.length);
      all.set(hay.tokens.subarray(0, hay.cum[t.file]));
      all.set(t.tokens, hay.cum[t.file]);
      assert.equal(all.length, t.total);
      assert.ok(t.total <= 1200 && t.total > 1150, `length ${t.total}`);
      const text = detok(all);
      const at = text.indexOf(needle);
      assert.ok(at > 0 && text[at - 1] === '\n', 'needle at a line start');
      assert.ok(Math.abs(at / (text.length - q.length) - depth) < 0.05, `depth ${at / text.length}`);
      assert.ok(Math.abs(t.actualDepth - depth) < 0.05);
      assert.ok(text.endsWith(`\n${q}`), 'the question follows a line end');
      assert.equal(text.split(needle).length, 2, 'one needle');
      // Without the needle the text is the haystack's own beginning.
      assert.ok(detok(hay.tokens).startsWith(text.slice(0, at) + text.slice(at + needle.length, -q.length - 1)));
    });
  }
});

describe('cross-file positions', () => {
  const runner = byteRunner;
  const file = (p: string, text: string) => ({ path: p, lang: 'typescript', text, tokens: new Int32Array(Buffer.byteLength(h.filePiece(p, text))) });
  const repo = {
    repo: 'me/app',
    files: [
      file('src/util/math.ts', 'export function addAll(xs) { return 0; }\n'),
      file('lib/math.ts', 'export function addAll(ys) { return 1; }\n'),
      file('src/test/fixtures/f.ts', 'export const fixtureName = 1;\n'),
      file('src/util/main.ts', 'import { addAll } from "./math";\nconst fixtureName = 2;\naddAll([1]);\n'),
      file('src/other.ts', 'export const unrelated = 3;\n'),
    ],
  };
  const opts = { seed: 1, files: 8, positions: 4, budget: 200, maxPrefixTokens: 1000, maxDefTokens: 1000, minLength: 4 };

  it('takes the first use, the nearest definer, and keeps B out of the context', () => {
    const sel = selectInRepo(runner, repo, opts);
    assert.equal(sel.targets.length, 1);
    const t = sel.targets[0];
    assert.equal(repo.files[t.file].path, 'src/util/main.ts');
    assert.equal(t.positions.length, 1, 'fixtureName comes from a fixture; addAll is taken once');
    const p = t.positions[0];
    const piece = h.filePiece('src/util/main.ts', repo.files[3].text);
    assert.equal(p.name, 'addAll');
    assert.equal(p.index, piece.indexOf('addAll'));
    assert.equal(piece.slice(0, p.q).endsWith('import {'), true);
    assert.equal(repo.files[p.definer].path, 'src/util/math.ts', 'the definer in the same folder');
    assert.ok(sel.context.includes(p.definer));
    assert.ok(!sel.context.includes(t.file));
    assert.deepEqual(sel.context, [...sel.context].sort((a: number, b: number) => a - b), 'corpus order');
    assert.ok(sel.contextTokens <= opts.budget);
    assert.equal(sel.contextTokens, sel.context.reduce((s: number, i: number) => s + repo.files[i].tokens.length, 0));
    // The control: the other context files, without the definer, filled up with files not in (a).
    assert.ok(!sel.control.includes(0) && !sel.control.includes(1), 'no file that defines addAll');
    assert.ok(!sel.control.includes(t.file));
    for (const i of sel.context) if (i > 1) assert.ok(sel.control.includes(i), `context file ${i} kept in the control`);
    assert.ok(sel.control.some((i: number) => !sel.context.includes(i)), 'filled up again');
    assert.ok(sel.controlTokens <= opts.budget);
    assert.equal(sel.controlTokens, sel.control.reduce((s: number, i: number) => s + repo.files[i].tokens.length, 0));
  });

  it('drops positions whose definer does not fit the budget', () => {
    const sel = selectInRepo(runner, repo, { ...opts, budget: 20 });
    assert.equal(sel.targets.length, 0);
  });
});
