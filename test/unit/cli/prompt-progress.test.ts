// Prompt text of the CLI (G1 chat turns, completion prefix)
// and the progress line's formatting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatDuration, formatProgress, ProgressLine } from '../../../src/cli/progress';
import { completionPrefix, nextTurn, userTurn } from '../../../src/cli/prompt';

describe('prompt text', () => {
  it('uses the G1 chat format and keeps blank lines out of a turn', () => {
    assert.equal(userTurn('What is this?'), 'User: What is this?\n\nAssistant:');
    assert.equal(userTurn(' one\n\n\ntwo '), 'User: one\ntwo\n\nAssistant:');
    assert.equal(nextTurn('next?', true), ' next?\n\nAssistant:');
    assert.equal(nextTurn('next?', false), '\n\nUser: next?\n\nAssistant:');
  });

  it('cuts the file at the cursor', () => {
    const text = 'line one\nline two\nline three';
    assert.equal(completionPrefix('f.ts', text, 2, 6), 'File: f.ts\n```\nline one\nline ');
    assert.equal(completionPrefix('f.ts', text, 1, 1), 'File: f.ts\n```\n');
    assert.throws(() => completionPrefix('f.ts', text, 4, 1), /3 lines/);
    assert.throws(() => completionPrefix('f.ts', text, 1, 20), /past its end/);
  });
});

describe('progress line', () => {
  it('formats tokens, rate and time left', () => {
    assert.equal(formatDuration(0), '0:00');
    assert.equal(formatDuration(83_000), '1:23');
    assert.equal(formatDuration(3_725_000), '1:02:05');
    const line = formatProgress({ label: 'reading', done: 2500, total: 10_000, unit: 'tokens', elapsedMs: 2000 }, 8);
    assert.equal(line, 'reading ▕██░░░░░░▏ 2,500/10,000 tokens · 1,250 tok/s · 0:06 left');
    const done = formatProgress({ label: 'reading', done: 10, total: 10, unit: 'tokens', elapsedMs: 4000, rate: 2.5 }, 4);
    assert.equal(done, 'reading ▕████▏ 10/10 tokens · 3 tok/s · 0:04 total');
    assert.equal(formatProgress({ label: 'x', done: 0, total: 0, unit: 'tensors', elapsedMs: 0 }, 2), 'x ▕░░▏ 0/0 tensors');
  });

  it('redraws on terminals and writes only the summary elsewhere', () => {
    const out: string[] = [];
    const pipe = new ProgressLine({ isTTY: false, write: (s: string) => (out.push(s), true) });
    pipe.update({ label: 'r', done: 1, total: 2, unit: 'tokens', elapsedMs: 10 });
    pipe.done({ label: 'r', done: 2, total: 2, unit: 'tokens', elapsedMs: 20 });
    assert.equal(out.length, 1);
    assert.ok(out[0].endsWith('\n'));
    const tty: string[] = [];
    const term = new ProgressLine({ isTTY: true, write: (s: string) => (tty.push(s), true) });
    term.update({ label: 'r', done: 1, total: 2, unit: 'tokens', elapsedMs: 10 });
    assert.ok(tty[0].startsWith('\r'));
    term.clear();
    assert.match(tty[tty.length - 1], /^\r +\r$/);
  });
});
