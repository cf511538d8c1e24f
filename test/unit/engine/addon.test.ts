// The Node addon over the real engine and the tiny models: handles, jobs,
// ordered streaming, cancellation, errors with codes, disposal.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { after, before, describe, it } from 'node:test';

import type { Addon, AddonError, NativeModel } from '../../../src/engine/host/addon';
import { addon, argmax, firstCall, scratchDir, TinyModels, tinyModels } from './fixtures';

let a: Addon;
let models: TinyModels;
let m7: NativeModel;
let mx: NativeModel;

before(async () => {
  a = addon();
  models = await tinyModels();
  m7 = await a.loadModel(models.rwkv7, { device: 'cpu' });
  mx = await a.loadModel(models.rwkvx);
});

after(() => {
  m7.dispose();
  mx.dispose();
  models.cleanup();
});

const PROMPT = 'def update(self, key, value):\n    return self.state[key]\n';

async function rejects(p: Promise<unknown>, code: string): Promise<AddonError> {
  try {
    await p;
  } catch (e) {
    assert.equal((e as AddonError).code, code, (e as Error).message);
    return e as AddonError;
  }
  assert.fail(`expected a rejection with code ${code}`);
}

describe('addon: model', () => {
  it('reports its ABI and build', () => {
    assert.equal(a.abiVersion(), a.headerAbiVersion);
    assert.match(a.buildInfo(), /rwkvx/);
    assert.equal(a.statusName(7), 'ABORTED');
  });

  it('describes the model and the device, with the reason for the choice', () => {
    const i7 = m7.info();
    assert.equal(i7.architecture, 'rwkv7');
    assert.equal(i7.nEmbd, 128);
    assert.equal(i7.nLayer, 2);
    assert.equal(i7.nAttnLayer, 0);
    assert.equal(i7.nVocab, 704);
    assert.match(i7.device, /CPU/);
    const ix = mx.info();
    assert.equal(ix.architecture, 'rwkvx');
    assert.ok(ix.nAttnLayer > 0);
    assert.ok(ix.kvBytesPerToken > 0);
    assert.ok(ix.deviceNote.length > 0, 'device auto explains its choice');
  });

  it('tokenizes and detokenizes losslessly, also emoji and CJK', () => {
    const text = 'User: 你好 😀 what is the model state?\r\n\r\nAssistant:';
    const tokens = m7.tokenize(text);
    assert.ok(tokens instanceof Int32Array && tokens.length > 0);
    assert.equal(m7.detokenize(tokens), text);
    assert.deepEqual(m7.tokenize(Buffer.from(text)), tokens);
    const bytes = Buffer.concat(Array.from(tokens, (t) => Buffer.from(m7.tokenBytes(t))));
    assert.equal(bytes.toString('utf8'), text);
  });

  it('returns metadata strings, and undefined for absent keys', () => {
    assert.equal(m7.metaString('general.architecture'), 'rwkv7');
    assert.equal(m7.metaString('no.such.key'), undefined);
  });

  it('rejects a missing file with IO and a non-GGUF file with FORMAT', async () => {
    const e1 = await rejects(a.loadModel('/nonexistent/model.gguf'), 'IO');
    assert.match(e1.message, /nonexistent\/model\.gguf/);
    const dir = scratchDir('corrupt');
    try {
      const junk = path.join(dir, 'junk.gguf');
      fs.writeFileSync(junk, 'this is not a model');
      await rejects(a.loadModel(junk), 'FORMAT');
      const truncated = path.join(dir, 'truncated.gguf');
      fs.writeFileSync(truncated, fs.readFileSync(models.rwkv7).subarray(0, 50_000));
      const e3 = await a.loadModel(truncated).then(
        () => assert.fail('a truncated model loaded'),
        (e: AddonError) => e,
      );
      assert.ok(['FORMAT', 'SHAPE', 'IO'].includes(e3.code), `${e3.code}: ${e3.message}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to be constructed from JavaScript', () => {
    const Model = (a as unknown as { Model: new () => unknown }).Model;
    assert.throws(() => new Model(), /loadModel/);
  });
});

describe('addon: session', () => {
  it('prefills with progress in order and returns the last logits', async () => {
    const s = m7.newSession({ prefillChunk: 16 });
    const tokens = m7.tokenize(PROMPT.repeat(4));
    const seen: number[] = [];
    const r = await s.prefill(tokens, { logits: true }, (done, total) => {
      assert.equal(total, tokens.length);
      seen.push(done);
    });
    assert.equal(r.nPast, tokens.length);
    assert.equal(s.nPast, tokens.length);
    assert.equal(r.logits!.length, 704);
    assert.ok(seen.length >= 2, 'several progress reports');
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], 'progress grows');
    s.dispose();
  });

  it('streams generated text in order, all before the promise settles, matching greedy decoding', async () => {
    const s = m7.newSession();
    const prompt = m7.tokenize(PROMPT);
    const first = await s.prefill(prompt, { logits: true });
    const sampler = m7.newSampler({ temperature: 0 });
    const pieces: string[] = [];
    const tokens: number[] = [];
    let settled = false;
    const r = await s
      .generate(sampler, { maxTokens: 24, stopAtEos: false }, (text, token) => {
        assert.equal(settled, false, 'text after the promise settled');
        pieces.push(text);
        if (token >= 0) tokens.push(token);
      })
      .finally(() => (settled = true));
    assert.equal(r.nGenerated, 24);
    assert.equal(r.stopReason, 'maxTokens');
    assert.equal(r.nPast, prompt.length + 24);
    // Greedy decoding step by step from the same prompt gives the same text.
    const check = m7.newSession();
    let logits = (await check.prefill(prompt, { logits: true })).logits!;
    assert.deepEqual(logits, first.logits);
    const greedy: number[] = [];
    for (let i = 0; i < 24; i++) {
      greedy.push(argmax(logits));
      logits = await check.decode(greedy[i]);
    }
    assert.equal(pieces.join(''), m7.detokenize(greedy));
    // The tokens reported with the pieces are those tokens, in order (a token
    // whose bytes complete no character is reported with a later piece or not at all).
    let at = 0;
    for (const t of tokens) {
      at = greedy.indexOf(t, at);
      assert.ok(at >= 0, 'reported tokens follow the generation order');
      at++;
    }
    sampler.dispose();
    s.dispose();
    check.dispose();
  });

  it('admits one call at a time (ERR_BUSY) and works again after it', async () => {
    const s = m7.newSession();
    const p = s.prefill(m7.tokenize(PROMPT));
    assert.equal(s.busy, true);
    assert.throws(() => s.snapshot(), (e: AddonError) => e.code === 'ERR_BUSY');
    assert.throws(() => s.prefill([1]), (e: AddonError) => e.code === 'ERR_BUSY');
    await p;
    assert.equal(s.busy, false);
    await s.prefill([1, 2, 3]);
    s.dispose();
  });

  it('aborts a prefill at a chunk boundary, keeping the tokens of finished chunks', async () => {
    const s = m7.newSession({ prefillChunk: 16 });
    const tokens = new Int32Array(20_000).map((_, i) => 1 + ((i * 31) % 600));
    const progress = firstCall<[number, number]>();
    const p = s.prefill(tokens, {}, progress.fn);
    await progress.called;
    s.abort();
    const e = await rejects(p, 'ABORTED');
    assert.ok(e.nPast! > 0 && e.nPast! < tokens.length, `nPast ${e.nPast}`);
    assert.equal(s.nPast, e.nPast);
    // The session goes on from where it stopped.
    await s.prefill([5, 6]);
    assert.equal(s.nPast, e.nPast! + 2);
    s.dispose();
  });

  it('an abort before the call starts stops it too', async () => {
    const s = m7.newSession();
    const p = s.prefill(m7.tokenize(PROMPT));
    s.abort();
    const e = await p.then(
      () => null,
      (err: AddonError) => err,
    );
    // Either it finished before the abort landed or it stopped; never half-done silently.
    if (e !== null) assert.equal(e.code, 'ABORTED');
    s.dispose();
  });

  it('aborts a generation: an ordinary end with stopReason aborted', async () => {
    const s = m7.newSession();
    await s.prefill(m7.tokenize(PROMPT));
    const sampler = m7.newSampler({ temperature: 1, seed: 3 });
    const text = firstCall<[string, number]>();
    const p = s.generate(sampler, { maxTokens: 1_000_000, stopAtEos: false }, text.fn);
    await text.called;
    s.abort();
    const r = await p;
    assert.equal(r.stopReason, 'aborted');
    assert.ok(r.nGenerated > 0 && r.nGenerated < 1_000_000);
    assert.equal(s.nPast, r.nPast);
    sampler.dispose();
    s.dispose();
  });

  it('a throwing text listener stops the generation and rejects with its error', async () => {
    const s = m7.newSession();
    await s.prefill([1, 2, 3]);
    const sampler = m7.newSampler({ temperature: 1 });
    await assert.rejects(
      s.generate(sampler, { maxTokens: 1_000_000, stopAtEos: false }, () => {
        throw new Error('listener failed');
      }),
      /listener failed/,
    );
    assert.equal(s.busy, false);
    sampler.dispose();
    s.dispose();
  });

  it('stops on a stop string without emitting it', async () => {
    const s = m7.newSession();
    await s.prefill(m7.tokenize(PROMPT));
    const sampler = m7.newSampler({ temperature: 0 });
    let free = '';
    await s.generate(sampler, { maxTokens: 40, stopAtEos: false }, (t) => (free += t));
    assert.ok(free.length >= 4);
    // Stop at a piece of what greedy decoding produces from the same state.
    const stop = free.slice(2, 4);
    const s2 = m7.newSession();
    await s2.prefill(m7.tokenize(PROMPT));
    let out = '';
    const r = await s2.generate(sampler, { maxTokens: 40, stopAtEos: false, stop: [stop] }, (t) => (out += t));
    assert.equal(r.stopReason, 'stop');
    assert.equal(out, free.slice(0, free.indexOf(stop)));
    sampler.dispose();
    s.dispose();
    s2.dispose();
  });

  it('snapshot → more tokens → restore gives the same continuation', async () => {
    for (const m of [m7, mx]) {
      const s = m.newSession();
      await s.prefill(m.tokenize(PROMPT));
      const snap = s.snapshot();
      assert.equal(snap.nPast, s.nPast);
      const before = await s.decode(42);
      await s.prefill([7, 8, 9]);
      assert.equal(s.restore(snap), snap.nPast);
      const again = await s.decode(42);
      assert.deepEqual(again, before);
      // Serialized and read back, the snapshot still fits.
      const bytes = await snap.serialize();
      const snap2 = await m.deserializeSnapshot(bytes);
      await s.prefill([7]);
      s.restore(snap2);
      assert.deepEqual(await s.decode(42), before);
      snap.dispose();
      snap2.dispose();
      s.dispose();
    }
  });

  it('fork continues exactly like its parent; save → load round-trips', async () => {
    const s = mx.newSession();
    await s.prefill(mx.tokenize(PROMPT));
    const f = s.fork();
    assert.equal(f.nPast, s.nPast);
    assert.deepEqual(await f.decode(11), await s.decode(11));
    const saved = await s.save();
    const t = mx.newSession();
    assert.equal((await t.load(saved)).nPast, s.nPast);
    assert.deepEqual(await t.decode(12), await s.decode(12));
    f.dispose();
    s.dispose();
    t.dispose();
  });

  it('rejects a state blob from another model with a clear error', async () => {
    const s = m7.newSession();
    await s.prefill([1, 2, 3]);
    const blob = await (s.snapshot()).serialize();
    await assert.rejects(mx.deserializeSnapshot(blob), (e: AddonError) => ['STATE_MISMATCH', 'FORMAT'].includes(e.code));
    const t = mx.newSession();
    await assert.rejects(t.load(await s.save()), (e: AddonError) => ['STATE_MISMATCH', 'FORMAT'].includes(e.code));
    s.dispose();
    t.dispose();
  });

  it('rejects out-of-range tokens with INVALID_ARGUMENT', async () => {
    const s = m7.newSession();
    const e = await rejects(s.prefill([1, 100_000]), 'INVALID_ARGUMENT');
    assert.match(e.message, /100000|range/);
    s.dispose();
  });

  it('disposed handles refuse calls; a session keeps its disposed model alive', async () => {
    const m = await a.loadModel(models.rwkv7);
    const s = m.newSession();
    m.dispose();
    assert.equal(m.disposed, true);
    assert.throws(() => m.tokenize('x'), (e: AddonError) => e.code === 'ERR_DISPOSED');
    await s.prefill([1, 2, 3]);
    assert.equal(s.nPast, 3);
    s.dispose();
    assert.throws(() => s.nPast, (e: AddonError) => e.code === 'ERR_DISPOSED');
    s.dispose(); // twice is fine
  });

  it('dispose during a running call aborts it and frees afterwards', async () => {
    const s = m7.newSession({ prefillChunk: 16 });
    const p = s.prefill(new Int32Array(50_000).fill(5));
    s.dispose();
    await p.then(
      () => undefined,
      (e: AddonError) => assert.equal(e.code, 'ABORTED'),
    );
  });
});

describe('addon: convert', () => {
  it('converts to Q8_0 with progress, and the result loads', async () => {
    const dir = scratchDir('convert');
    try {
      const out = path.join(dir, 'q8.gguf');
      const seen: number[] = [];
      await a.convert(models.rwkv7, out, { type: 'q8_0' }, (done) => seen.push(done));
      assert.ok(seen.length > 0);
      const m = await a.loadModel(out);
      assert.equal(m.info().nVocab, 704);
      m.dispose();
      await rejects(a.convert('/nonexistent.pth', path.join(dir, 'x.gguf')), 'IO');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
