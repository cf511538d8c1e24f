// The FakeEngine must be as strict as the C ABI, or the context-log tests prove nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeEngine, TokenRope } from '../../../src/core/context/fakeEngine';
import { EngineError } from '../../../src/core/context/ports';

const ids = (s: string) => Int32Array.from(Buffer.from(s), (b) => b + 1);

test('fake engine: snapshots restore only onto the same token prefix', async () => {
  const e = new FakeEngine();
  const s = await e.openSession();
  await e.feed(s, ids('hello '));
  const k = await e.snapshot(s);
  await e.feed(s, ids('world'));
  const f = await e.fork(s);
  await e.restore(f, k);
  assert.equal(e.textOf(f), 'hello ');
  assert.equal(e.textOf(s), 'hello world', 'a fork is independent');
  const other = await e.openSession();
  await e.feed(other, ids('HELLO world'));
  await assert.rejects(e.restore(other, k), (err: unknown) => err instanceof EngineError && err.code === 'state-mismatch');
  // Serialized snapshots carry the length and prefix hash, not the tokens.
  const bytes = await e.saveSnapshot(k);
  assert.ok(bytes.length < 100);
  const k2 = await e.loadSnapshot(bytes);
  await e.restore(s, k2);
  assert.equal(e.textOf(s), 'hello ');
  await assert.rejects(e.restore(other, k2), /prefix differs/);
  bytes[bytes.length - 1] ^= 1;
  await assert.rejects(e.loadSnapshot(bytes), /checksum/);
});

test('fake engine: one call per session at a time; abort keeps completed chunks', async () => {
  let release!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  let first = true;
  const e = new FakeEngine({ chunk: 4, beforeChunk: async () => { if (first) { first = false; await hold; } } });
  const s = await e.openSession();
  const feeding = e.feed(s, ids('0123456789abcdef'));
  await assert.rejects(e.snapshot(s), /concurrent calls/);
  release();
  await feeding;
  const ctl = new AbortController();
  let n = 0;
  const e2 = new FakeEngine({ chunk: 4, beforeChunk: () => { if (++n === 3) ctl.abort(); } });
  const s2 = await e2.openSession();
  const r = await e2.feed(s2, ids('0123456789abcdef'), { signal: ctl.signal });
  assert.deepEqual(r, { nPast: 8, aborted: true });
  assert.equal(e2.textOf(s2), '01234567');
});

test('fake engine: sessions save and load with an integrity check; n_ctx is enforced', async () => {
  const e = new FakeEngine({ contextLength: 10 });
  const s = await e.openSession();
  await e.feed(s, ids('abcdef'));
  await assert.rejects(e.feed(s, ids('ghijk')), (err: unknown) => err instanceof EngineError && err.code === 'context-full');
  const bytes = await e.saveSession(s);
  const t = await e.openSession();
  await e.loadSession(t, bytes);
  assert.equal(e.textOf(t), 'abcdef');
  await assert.rejects(e.loadSession(t, bytes.subarray(0, bytes.length - 3)), /truncated|checksum/);
});

test('token rope: prefixes share chunks and stay exact across chunk borders', () => {
  const n = 20000;
  const r = TokenRope.from(Int32Array.from({ length: n }, (_, i) => i));
  const p = r.prefix(8192 + 5);
  p.push([-1, -2]);
  assert.equal(r.length, n);
  assert.equal(r.toArray()[8197], 8197, 'the original is not written through the copy');
  assert.ok(r.prefix(9000).startsWith(r.prefix(8192)));
  assert.ok(!p.startsWith(r.prefix(8199)));
  assert.equal(r.hashPrefix(100), TokenRope.from(Int32Array.from({ length: 100 }, (_, i) => i)).hashPrefix(100));
});
