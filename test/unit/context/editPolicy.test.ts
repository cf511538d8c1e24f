import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planUpdate, type FileChange, type PolicyOptions } from '../../../src/core/context/editPolicy';

const ALWAYS: PolicyOptions = { rewindSlack: Infinity };
import { hashText } from '../../../src/core/context/hash';
import type { Seg } from '../../../src/core/context/table';

let pos = 0;
function seg(path: string, body: string, o: Partial<Seg> = {}): Seg {
  const s: Seg = {
    kind: path ? 'file' : 'preamble', path, part: 0, parts: 0, header: path ? 'file' : 'preamble',
    contentHash: path ? hashText(body) : '', textHash: hashText(path + body), start: pos, tokens: 10, stale: false, mtimeMs: 0, ...o,
  };
  pos += s.tokens;
  return s;
}

function table() {
  pos = 0;
  // preamble, three cold files, two hot ones (hotStart = 4)
  return [seg('', ''), seg('a.ts', 'A'), seg('b.ts', 'B'), seg('c.ts', 'C'), seg('d.ts', 'D'), seg('e.ts', 'E')];
}

const whole = (body: string): FileChange => ({ parts: [{ part: 0, parts: 0, body, hash: hashText(body), startLine: 0 }], mtimeMs: 1 });

test('policy: a cold edit marks the old copy stale and appends "File (updated)"', () => {
  const segs = table();
  const plan = planUpdate(segs, 4, new Map([['b.ts', whole('B2')]]), 0);
  assert.equal(plan.rewindIndex, segs.length, 'nothing is rewound');
  assert.equal(plan.staled, 1);
  assert.ok(plan.prefix[2].stale);
  assert.ok(!segs[2].stale, 'the input table is not modified');
  assert.deepEqual(plan.tail.map((t) => (t.from === 'new' ? `${t.header}:${t.path}` : 'kept')), ['updated:b.ts']);
});

test('policy: a hot edit rewinds to the file, re-feeds what followed, then the new version', () => {
  const segs = table();
  const plan = planUpdate(segs, 4, new Map([['d.ts', whole('D2')]]), 0, ALWAYS);
  assert.equal(plan.rewindIndex, 4);
  assert.equal(plan.removed, 1);
  assert.equal(plan.staled, 0);
  assert.deepEqual(plan.tail.map((t) => (t.from === 'kept' ? `kept:${t.seg.path}` : `${t.header}:${t.path}`)), ['kept:e.ts', 'file:d.ts']);
  // Editing the last file re-feeds only that file.
  const last = planUpdate(segs, 4, new Map([['e.ts', whole('E2')]]), 0);
  assert.equal(last.rewindIndex, 5);
  assert.deepEqual(last.tail.map((t) => t.from), ['new']);
});

test('policy: unchanged content is a no-op', () => {
  assert.ok(planUpdate(table(), 4, new Map([['a.ts', whole('A')], ['e.ts', whole('E')]]), 0).noop);
});

test('policy: deletes leave a note only when an older copy stays in the stream', () => {
  const segs = table();
  const cold = planUpdate(segs, 4, new Map([['a.ts', null]]), 0);
  assert.ok(cold.prefix[1].stale);
  assert.deepEqual(cold.tail.map((t) => t.from === 'new' && `${t.header}:${t.path}`), ['deleted:a.ts']);
  const hot = planUpdate(segs, 4, new Map([['e.ts', null]]), 0, ALWAYS);
  assert.equal(hot.rewindIndex, 5);
  assert.equal(hot.tail.length, 0, 'the only copy is rewound away: nothing to note');
  // A hot copy that superseded a stale cold copy: removing it needs a note.
  const withUpdate = [...table(), seg('b.ts', 'B2', { header: 'updated' })];
  withUpdate[2] = { ...withUpdate[2], stale: true };
  const gone = planUpdate(withUpdate, 4, new Map([['b.ts', null]]), 0, ALWAYS);
  assert.equal(gone.rewindIndex, 6);
  assert.deepEqual(gone.tail.map((t) => t.from === 'new' && `${t.header}:${t.path}`), ['deleted:b.ts']);
  assert.ok(planUpdate(segs, 4, new Map([['zzz.ts', null]]), 0).noop, 'deleting an unknown file');
});

test('policy: creates append "File:", a recreated path appends "File (updated)"', () => {
  const segs = table();
  const plan = planUpdate(segs, 4, new Map([['new.ts', whole('N')]]), 0);
  assert.deepEqual(plan.tail.map((t) => t.from === 'new' && `${t.header}:${t.path}`), ['file:new.ts']);
  const withNote = [...segs, seg('x.ts', '', { kind: 'deleted', header: 'deleted', contentHash: '' })];
  const again = planUpdate(withNote, 4, new Map([['x.ts', whole('X')]]), 0);
  assert.deepEqual(again.tail.map((t) => (t.from === 'new' ? `${t.header}:${t.path}` : `kept:${t.seg.path}`)), ['updated:x.ts']);
});

test('policy: a rename is a delete plus a create', () => {
  const plan = planUpdate(table(), 4, new Map<string, FileChange | null>([['b.ts', null], ['b2.ts', whole('B')]]), 0);
  assert.deepEqual(plan.tail.map((t) => t.from === 'new' && `${t.header}:${t.path}`), ['deleted:b.ts', 'file:b2.ts']);
});

test('policy: split files update part by part; a new split replaces every part', () => {
  pos = 0;
  const p = (i: number, body: string, o: Partial<Seg> = {}) => seg('big.ts', body, { part: i, parts: 3, ...o });
  const segs = [seg('', ''), p(1, 'one'), p(2, 'two'), p(3, 'three'), seg('z.ts', 'Z')];
  const parts = (bodies: string[]): FileChange => ({
    parts: bodies.map((b, i) => ({ part: i + 1, parts: bodies.length, body: b, hash: hashText(b), startLine: i })), mtimeMs: 1,
  });
  const one = planUpdate(segs, 4, new Map([['big.ts', parts(['one', 'TWO', 'three'])]]), 0);
  assert.equal(one.staled, 1);
  assert.ok(one.prefix[2].stale && !one.prefix[1].stale && !one.prefix[3].stale);
  assert.equal(one.tail.length, 1);
  const t = one.tail[0];
  assert.ok(t.from === 'new' && t.kind === 'file' && t.part.part === 2 && t.header === 'updated');
  const reshaped = planUpdate(segs, 4, new Map([['big.ts', parts(['one', 'two', 'three', 'four'])]]), 0);
  assert.equal(reshaped.staled, 3);
  assert.equal(reshaped.tail.length, 4);
});

test('policy: a hot part is rewound only while what follows it is cheap (rewindSlack)', () => {
  const segs = table();
  // d.ts is hot but e.ts (10 tokens) follows: with the default slack 0.1 that is too much to re-feed.
  const plan = planUpdate(segs, 4, new Map([['d.ts', whole('D2')]]), 0);
  assert.equal(plan.rewindIndex, segs.length, 'no rewind');
  assert.ok(plan.prefix[4].stale);
  assert.deepEqual(plan.tail.map((t) => t.from === 'new' && `${t.header}:${t.path}`), ['updated:d.ts']);
  // With a slack of 1, e.ts (10 tokens) may follow a 10-token file.
  assert.equal(planUpdate(segs, 4, new Map([['d.ts', whole('D2')]]), 0, { rewindSlack: 1 }).rewindIndex, 4);
  // The last file is always rewound: nothing follows it.
  assert.equal(planUpdate(segs, 4, new Map([['e.ts', whole('E2')]]), 0).rewindIndex, 5);
});
