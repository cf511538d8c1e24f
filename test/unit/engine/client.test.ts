// The engine client and the engine process together, over real IPC and the
// real engine: streaming, cancellation, crashes and restarts, bad models,
// concurrent sessions, snapshots and persistence.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { after, before, describe, it } from 'node:test';
import { CancellationTokenSource } from 'vscode-jsonrpc';

import { EngineError } from '../../../src/common/errors';
import { base64ToFloat32 } from '../../../src/common/binary';
import { decodeNpyFloat32 } from '../../../src/common/npy';
import { CrashEvent, EngineClient, RestartEvent } from '../../../src/engine/client';
import type { ProgressNotification } from '../../../src/protocol/engine';
import { argmax, scratchDir, TinyModels, tinyModels } from './fixtures';

let models: TinyModels;
before(async () => {
  models = await tinyModels();
});
after(() => models.cleanup());

const PROMPT = 'def update(self, key, value):\n    return self.state[key]\n';

async function rejection(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EngineError, `not an EngineError: ${e}`);
    return e;
  }
  assert.fail('expected a rejection');
}

/** Collects a generation: the streamed pieces and the final result. */
async function collect(stream: ReturnType<EngineClient['generate']>) {
  const pieces: string[] = [];
  for await (const c of stream) pieces.push(c.text);
  return { pieces, result: await stream.result };
}

function nextEvent<T>(subscribe: (fn: (e: T) => void) => { dispose(): void }): Promise<T> {
  return new Promise((resolve) => {
    const sub = subscribe((e) => {
      sub.dispose();
      resolve(e);
    });
  });
}

describe('engine client', () => {
  let client: EngineClient;
  before(() => {
    client = new EngineClient({ restart: { initialDelayMs: 20 } });
  });
  after(() => client.dispose());

  it('starts the engine process and reports the addon', async () => {
    const hello = await client.start();
    assert.equal(hello.epoch, 0);
    assert.equal(typeof hello.abiVersion, 'number');
    assert.notEqual(hello.pid, process.pid);
    assert.equal(client.pid, hello.pid);
  });

  it('loads a model and returns its info with the device note', async () => {
    const progress: ProgressNotification[] = [];
    const r = await client.loadModel({ path: models.rwkv7, device: 'auto' }, { onProgress: (p) => progress.push(p) });
    assert.match(r.modelId, /^m0\./);
    assert.equal(r.info.architecture, 'rwkv7');
    assert.ok(r.info.deviceNote.length > 0);
    // The engine does not report load progress yet (rwkvx_model_params.progress); what comes is 'load'.
    assert.ok(progress.every((p) => p.phase === 'load' && p.unit === 'tensors'));
    const info = await client.request('modelInfo', { modelId: r.modelId });
    assert.deepEqual(info, r.info);
  });

  it('round-trips tokenize / detokenize', async () => {
    const { modelId } = await client.loadModel({ path: models.rwkv7 });
    const { tokens } = await client.request('tokenize', { modelId, text: PROMPT });
    assert.ok(tokens.length > 0);
    assert.equal((await client.request('detokenize', { modelId, tokens })).text, PROMPT);
  });

  it('feeds with growing progress and streams generated text in order', async () => {
    const { modelId } = await client.loadModel({ path: models.rwkv7 });
    const { sessionId } = await client.request('openSession', { modelId, prefillChunk: 16 });
    const progress: number[] = [];
    const fed = await client.feed({ sessionId, text: PROMPT.repeat(20), wantLogits: true }, { onProgress: (p) => progress.push(p.done) });
    assert.equal(fed.nPast, fed.fed);
    assert.equal(progress[progress.length - 1], fed.fed);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1]);
    const { pieces, result } = await collect(client.generate({ sessionId, maxTokens: 30, stopAtEos: false, sampler: { temperature: 0 } }));
    assert.equal(result.nGenerated, 30);
    assert.equal(pieces.join(''), result.text);
    // Greedy from the same context, decoded token by token with logits, gives the same text.
    const { sessionId: check } = await client.request('openSession', { modelId });
    let logits = base64ToFloat32((await client.request('feed', { sessionId: check, text: PROMPT.repeat(20), wantLogits: true })).logits!);
    const greedy: number[] = [];
    for (let i = 0; i < 30; i++) {
      greedy.push(argmax(logits));
      logits = base64ToFloat32((await client.request('feed', { sessionId: check, tokens: [greedy[i]], wantLogits: true })).logits!);
    }
    assert.equal((await client.request('detokenize', { modelId, tokens: greedy })).text, result.text);
  });

  it('cancels a feed midway: ABORTED with the tokens kept, and the session goes on', async () => {
    const { modelId } = await client.loadModel({ path: models.rwkv7 });
    const { sessionId } = await client.request('openSession', { modelId, prefillChunk: 16 });
    const source = new CancellationTokenSource();
    const tokens = Array.from({ length: 100_000 }, (_, i) => 1 + ((i * 17) % 600));
    const p = client.feed({ sessionId, tokens }, { token: source.token, onProgress: (pr) => pr.done > 0 && source.cancel() });
    const e = await rejection(p);
    assert.equal(e.code, 'ABORTED');
    assert.ok(e.nPast! > 0 && e.nPast! < tokens.length, `nPast ${e.nPast}`);
    const more = await client.request('feed', { sessionId, tokens: [1, 2] });
    assert.equal(more.nPast, e.nPast! + 2);
  });

  it('cancels a generation: the result says aborted and holds the text so far', async () => {
    const { modelId } = await client.loadModel({ path: models.rwkv7 });
    const { sessionId } = await client.request('openSession', { modelId });
    const source = new CancellationTokenSource();
    const stream = client.generate({ sessionId, prompt: PROMPT, maxTokens: 1_000_000, stopAtEos: false }, { token: source.token });
    const pieces: string[] = [];
    for await (const c of stream) {
      pieces.push(c.text);
      source.cancel();
    }
    const r = await stream.result;
    assert.equal(r.stopReason, 'aborted');
    assert.ok(r.nGenerated > 0 && r.nGenerated < 1_000_000);
    assert.equal(pieces.join(''), r.text);
  });

  it('runs two sessions concurrently without mixing them', async () => {
    const { modelId } = await client.loadModel({ path: models.rwkvx });
    const prompts = ['User: tell me about the state\n\nAssistant:', 'def value(self):\n    return'];
    const alone: string[] = [];
    for (const prompt of prompts) {
      const { sessionId } = await client.request('openSession', { modelId });
      alone.push((await collect(client.generate({ sessionId, prompt, maxTokens: 40, stopAtEos: false, sampler: { temperature: 0 } }))).result.text);
    }
    assert.notEqual(alone[0], alone[1]);
    const sessions = await Promise.all(prompts.map(() => client.request('openSession', { modelId })));
    const together = await Promise.all(
      prompts.map((prompt, i) => collect(client.generate({ sessionId: sessions[i].sessionId, prompt, maxTokens: 40, stopAtEos: false, sampler: { temperature: 0 } }))),
    );
    together.forEach((t, i) => {
      assert.equal(t.result.text, alone[i]);
      assert.equal(t.pieces.join(''), alone[i]);
    });
  });

  it('queues concurrent calls on one session in order', async () => {
    const { modelId } = await client.loadModel({ path: models.rwkv7 });
    const { sessionId } = await client.request('openSession', { modelId });
    const results = await Promise.all([1, 2, 3].map((n) => client.request('feed', { sessionId, tokens: Array(n * 10).fill(n) })));
    assert.deepEqual(
      results.map((r) => r.nPast),
      [10, 30, 60],
    );
  });

  it('snapshots, rewinds, forks, and saves / loads sessions', async () => {
    const dir = scratchDir('sessions');
    try {
      const { modelId } = await client.loadModel({ path: models.rwkvx });
      const { sessionId } = await client.request('openSession', { modelId });
      const a = await client.request('feed', { sessionId, text: PROMPT, wantLogits: true });
      const snap = await client.request('snapshot', { sessionId });
      assert.equal(snap.nPast, a.nPast);
      const b = await client.request('feed', { sessionId, text: 'more text', wantLogits: true });
      assert.ok(b.nPast > a.nPast);
      assert.equal((await client.request('rewind', { sessionId, nPast: a.nPast })).nPast, a.nPast);
      const after1 = await client.request('feed', { sessionId, text: 'more text', wantLogits: true });
      assert.deepEqual(base64ToFloat32(after1.logits!), base64ToFloat32(b.logits!));
      assert.equal((await client.request('restore', { sessionId, snapshotId: snap.snapshotId })).nPast, a.nPast);
      const fork = await client.request('forkSession', { sessionId });
      assert.equal(fork.nPast, a.nPast);
      const inFork = await client.request('feed', { sessionId: fork.sessionId, text: 'more text', wantLogits: true });
      assert.deepEqual(base64ToFloat32(inFork.logits!), base64ToFloat32(b.logits!));
      // Save to a file, load into a fresh session: same continuation.
      const file = path.join(dir, 'session.bin');
      const saved = await client.request('saveSession', { sessionId: fork.sessionId, path: file });
      assert.equal(saved.size, fs.statSync(file).size);
      const { sessionId: fresh } = await client.request('openSession', { modelId });
      assert.equal((await client.request('loadSession', { sessionId: fresh, path: file })).nPast, inFork.nPast);
      const inline = await client.request('exportSnapshot', { snapshotId: snap.snapshotId });
      const imported = await client.request('importSnapshot', { modelId, bytes: inline.bytes! });
      assert.equal(imported.nPast, a.nPast);
      await client.request('dropSnapshot', { snapshotId: snap.snapshotId });
      const gone = await rejection(client.request('restore', { sessionId, snapshotId: snap.snapshotId }));
      assert.equal(gone.code, 'ERR_UNKNOWN_ID');
      const noSnap = await rejection(client.request('rewind', { sessionId, nPast: 3 }));
      assert.equal(noSnap.code, 'STATE_MISMATCH');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes all logits as .npy', async () => {
    const dir = scratchDir('logits');
    try {
      const { modelId } = await client.loadModel({ path: models.rwkv7 });
      const { sessionId } = await client.request('openSession', { modelId });
      const out = path.join(dir, 'l.npy');
      const r = await client.request('allLogits', { sessionId, tokens: [5, 6, 7], outPath: out });
      assert.equal(r.rows, 3);
      const npy = decodeNpyFloat32(fs.readFileSync(out));
      assert.deepEqual(npy.shape, [3, r.nVocab]);
      const { sessionId: s2 } = await client.request('openSession', { modelId });
      const inline = await client.request('allLogits', { sessionId: s2, tokens: [5, 6, 7] });
      assert.deepEqual(base64ToFloat32(inline.data!), npy.data);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers a bad model path or a corrupt model with a clear error, and keeps serving', async () => {
    const missing = await rejection(client.loadModel({ path: '/nonexistent/dir/model.gguf' }));
    assert.equal(missing.code, 'IO');
    assert.match(missing.message, /nonexistent\/dir\/model\.gguf/);
    const dir = scratchDir('corrupt');
    try {
      const corrupt = path.join(dir, 'corrupt.gguf');
      const bytes = fs.readFileSync(models.rwkv7);
      fs.writeFileSync(corrupt, bytes.subarray(0, Math.floor(bytes.length / 3)));
      const e = await rejection(client.loadModel({ path: corrupt }));
      assert.ok(['FORMAT', 'SHAPE', 'IO'].includes(e.code), `${e.code}: ${e.message}`);
      assert.ok(e.message.length > 10);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const unknown = await rejection(client.request('feed', { sessionId: 's0.999', tokens: [1] }));
    assert.equal(unknown.code, 'ERR_UNKNOWN_ID');
    const device = await rejection(client.loadModel({ path: models.rwkv7, device: 'gpu' as 'cpu' }));
    assert.equal(device.code, 'ERR_INVALID_PARAMS');
    assert.equal((await client.request('stats', {})).pid, client.pid);
  });

  it('reports stats: models, sessions, throughput, memory', async () => {
    const s = await client.request('stats', {});
    assert.ok(s.models.length > 0);
    assert.ok(s.sessions.length > 0);
    assert.ok(s.prefill.tokens > 0 && s.decode.tokens > 0);
    assert.ok(s.memory.rss > 0);
    assert.match(s.models[0].device, /CPU/);
  });

  it('survives SIGKILL mid-generation: the call fails clearly, the process restarts, new calls work', async () => {
    const { modelId } = await client.loadModel({ path: models.rwkv7 });
    const { sessionId } = await client.request('openSession', { modelId });
    const oldPid = client.pid!;
    const crashed = nextEvent<CrashEvent>((fn) => client.onDidCrash(fn));
    const restarted = nextEvent<RestartEvent>((fn) => client.onDidRestart(fn));
    const stream = client.generate({ sessionId, prompt: PROMPT, maxTokens: 1_000_000, stopAtEos: false });
    let error: unknown = null;
    try {
      for await (const _ of stream) process.kill(oldPid, 'SIGKILL');
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, 'ERR_ENGINE_EXITED');
    assert.match(error.message, /SIGKILL/);
    assert.match(error.message, /generate/);
    await assert.rejects(stream.result, (e: EngineError) => e.code === 'ERR_ENGINE_EXITED');
    const crash = await crashed;
    assert.equal(crash.exit.signal, 'SIGKILL');
    assert.equal(crash.willRestart, true);
    const restart = await restarted;
    assert.equal(restart.epoch, crash.epoch + 1);
    assert.notEqual(restart.hello.pid, oldPid);
    // Old ids are gone; a rebuilt session works.
    const stale = await rejection(client.request('feed', { sessionId, tokens: [1] }));
    assert.equal(stale.code, 'ERR_UNKNOWN_ID');
    const m = await client.loadModel({ path: models.rwkv7 });
    assert.match(m.modelId, new RegExp(`^m${restart.epoch}\\.`));
    const s = await client.request('openSession', { modelId: m.modelId });
    const r = await collect(client.generate({ sessionId: s.sessionId, prompt: PROMPT, maxTokens: 5, stopAtEos: false }));
    assert.equal(r.result.nGenerated, 5);
  });
});

describe('engine client: restart policy', () => {
  it('gives up after repeated crashes at start, with a clear error, until restart()', async () => {
    const dir = scratchDir('badhost');
    try {
      const host = path.join(dir, 'host.js');
      fs.writeFileSync(host, "process.stderr.write('boom: cannot start\\n'); process.exit(3);\n");
      const client = new EngineClient({ hostModule: host, restart: { initialDelayMs: 5, maxDelayMs: 20, maxRestarts: 2 } });
      const crashes: CrashEvent[] = [];
      client.onDidCrash((e) => crashes.push(e));
      const e = await rejection(client.start());
      assert.equal(e.code, 'ERR_ENGINE_UNAVAILABLE');
      assert.match(e.message, /exited with code 3/);
      assert.equal(crashes.length, 3);
      assert.deepEqual(
        crashes.map((c) => c.willRestart),
        [true, true, false],
      );
      assert.match(crashes[0].exit.stderr, /boom: cannot start/);
      const again = await rejection(client.request('stats', {}));
      assert.equal(again.code, 'ERR_ENGINE_UNAVAILABLE');
      // Fixed now: restart() tries again.
      fs.writeFileSync(host, `require(${JSON.stringify(path.join(__dirname, '..', '..', '..', 'src', 'engine', 'host', 'main.js'))});\n`);
      const hello = await client.restart();
      assert.equal(typeof hello.pid, 'number');
      await client.dispose();
      const disposed = await rejection(client.request('stats', {}));
      assert.equal(disposed.code, 'ERR_CLIENT_DISPOSED');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says clearly when the addon cannot be loaded, and still answers', async () => {
    const client = new EngineClient({ env: { ...process.env, RWKVX_ADDON: '/nonexistent/rwkvx.node' } });
    try {
      const hello = await client.start();
      assert.equal(hello.abiVersion, null);
      assert.match(hello.addonError!, /nonexistent\/rwkvx\.node/);
      const e = await rejection(client.loadModel({ path: models.rwkv7 }));
      assert.equal(e.code, 'ERR_ADDON_MISSING');
      assert.match(e.message, /engine addon is not available/);
      assert.equal((await client.request('stats', {})).models.length, 0);
    } finally {
      await client.dispose();
    }
  });

  it('stops the engine process on dispose', async () => {
    const client = new EngineClient();
    const hello = await client.start();
    await client.dispose();
    assert.throws(() => process.kill(hello.pid, 0), /ESRCH/);
  });
});
