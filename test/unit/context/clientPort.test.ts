// The context log's engine port over the engine process: port calls with the
// real engine, and the context log built, queried, saved and reopened in a
// new engine process through it; and, over a recorded client, what the two
// front ends rely on (the model looked up per call, session sizes, aborts).
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { after, before, describe, it } from 'node:test';

import { ClientEnginePort, ContextLog, EngineError, FolderStorage, NodeFileSystem, systemClock } from '../../../src/core/context';
import { EngineClient } from '../../../src/engine/client';
import { EngineError as ClientError } from '../../../src/common/errors';
import type { EngineRequester, PortModel } from '../../../src/core/context';
import type { ModelInfo } from '../../../src/protocol/engine';
import { scratchDir, TinyModels, tinyModels } from '../engine/fixtures';

let models: TinyModels;
let dir: string;

before(async () => {
  models = await tinyModels();
  dir = scratchDir('ctxport');
});
after(() => {
  models.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function openPort(client: EngineClient, nCtx = 4096): Promise<ClientEnginePort> {
  const m = await client.loadModel({ path: models.rwkv7 });
  const model = { modelId: m.modelId, path: models.rwkv7, info: m.info };
  return new ClientEnginePort(client, { model: () => model, contextLength: () => nCtx });
}

describe('context engine port', () => {
  it('maps each port call onto the engine, with port error codes and aborts', async () => {
    const client = new EngineClient();
    try {
      const port = await openPort(client, 200_000);
      const info = await port.info();
      assert.equal(info.contextLength, 200_000);
      assert.ok(info.stateBytes > 0 && info.fingerprint.startsWith('rwkv7|'));
      const s = await port.openSession();
      const tokens = await port.tokenize('def f(x):\n    return x\n');
      assert.deepEqual(await port.feed(s, tokens), { nPast: tokens.length, aborted: false });
      assert.equal(await port.nPast(s), tokens.length);
      const snap = await port.snapshot(s);
      await port.feed(s, Int32Array.from([5, 6]));
      await port.restore(s, snap);
      assert.equal(await port.nPast(s), tokens.length);
      const f = await port.fork(s);
      assert.equal(await port.nPast(f), tokens.length);
      const t = await port.openSession();
      await port.loadSession(t, await port.saveSession(s));
      assert.equal(await port.nPast(t), tokens.length);
      const snap2 = await port.loadSnapshot(await port.saveSnapshot(snap));
      await port.feed(t, Int32Array.from([7]));
      await port.restore(t, snap2);
      assert.equal(await port.nPast(t), tokens.length);
      // Abort through an AbortSignal keeps the finished chunks.
      const ac = new AbortController();
      const big = Int32Array.from({ length: 100_000 }, (_, i) => 1 + (i % 500));
      const r = await port.feed(f, big, { onProgress: (done) => done > 0 && ac.abort(), signal: ac.signal });
      assert.equal(r.aborted, true);
      assert.ok(r.nPast > tokens.length && r.nPast < tokens.length + big.length);
      await assert.rejects(port.feed(s, Int32Array.from([100_000])), (e: unknown) => e instanceof EngineError && e.code === 'invalid-argument');
      await assert.rejects(port.loadSession(t, new Uint8Array([1, 2, 3])), (e: unknown) => e instanceof EngineError && ['format', 'state-mismatch'].includes(e.code));
      await port.dropSnapshot(snap);
      await port.dropSession(f);
    } finally {
      await client.dispose();
    }
  });

  it('serves the context log: build, query fork, save, reopen in a new engine process', async () => {
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(path.join(ws, 'src'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'README.md'), '# Adder\nAdds numbers.\n');
    fs.writeFileSync(path.join(ws, 'src', 'add.ts'), 'export const add = (a: number, b: number) => a + b;\n');
    const storage = new FolderStorage(path.join(dir, 'store'));
    fs.mkdirSync(storage.dir, { recursive: true });
    const deps = (engine: ClientEnginePort) => ({ fs: new NodeFileSystem(), engine, clock: systemClock, folders: [{ name: 'ws', path: ws }], storage });

    const first = new EngineClient();
    try {
      const log = new ContextLog(deps(await openPort(first)), { outliner: null });
      await log.start();
      const status = log.status();
      assert.equal(status.state, 'ready');
      assert.equal(status.files, 2);
      assert.ok(status.tokensInContext > 0);
      const fork = await log.forkForQuery();
      const stream = first.generate({ sessionId: fork.session, prompt: 'User: what is this?\n\nAssistant:', maxTokens: 5, stopAtEos: false });
      for await (const _ of stream) {
        // streamed
      }
      assert.equal((await stream.result).nGenerated, 5);
      await fork.drop();
      await log.dispose({ save: true });
      assert.ok(fs.readdirSync(storage.dir).length > 0, 'saved');
    } finally {
      await first.dispose();
    }

    const second = new EngineClient();
    try {
      const log = new ContextLog(deps(await openPort(second)), { outliner: null });
      await log.start();
      const status = log.status();
      assert.equal(status.state, 'ready');
      assert.equal(status.restore?.reused, true, status.restore?.reason);
      await log.dispose({ save: false });
    } finally {
      await second.dispose();
    }
  });
});

/** A client that records requests and answers from a table; feed fails as told. */
class RecordingClient implements EngineRequester {
  readonly calls: { method: string; params: Record<string, unknown> }[] = [];
  feedError: unknown;
  async request(method: string, params: unknown): Promise<never> {
    this.calls.push({ method, params: params as Record<string, unknown> });
    const answers: Record<string, unknown> = {
      openSession: { sessionId: `s${this.calls.length}`, nPast: 0 },
      sessionInfo: { sessionId: 's1', nPast: 42 },
      tokenize: { tokens: [1, 2, 3] },
    };
    if (method in answers) return answers[method] as never;
    throw new ClientError('INVALID_ARGUMENT', `unknown ${method}`);
  }
  async feed(params: { sessionId: string; tokens?: number[] }): Promise<never> {
    this.calls.push({ method: 'feed', params });
    if (this.feedError) throw this.feedError;
    return { nPast: params.tokens!.length, fed: params.tokens!.length, elapsedMs: 1, tokensPerSecond: 1 } as never;
  }
}

const fakeInfo = { architecture: 'rwkv7', name: 'tiny', nParams: 10, weightBytes: 40, nEmbd: 4, nLayer: 2, nAttnLayer: 0, nVocab: 9, stateBytes: 64, device: 'cpu' } as ModelInfo;

describe('context engine port over a recorded client', () => {
  it('asks for the model before each call, so a reloaded model is used after a restart', async () => {
    const client = new RecordingClient();
    let model: PortModel = { modelId: 'm1', path: '/nowhere/a.gguf', info: fakeInfo };
    const port = new ClientEnginePort(client, { model: async () => model, contextLength: () => 1000, sessionLength: () => 1500 });
    await port.openSession();
    model = { ...model, modelId: 'm2' };
    await port.tokenize('x');
    assert.deepEqual(client.calls.map((c) => [c.method, c.params.modelId, c.params.nCtx]), [['openSession', 'm1', 1500], ['tokenize', 'm2', undefined]]);
    const info = await port.info();
    assert.equal(info.contextLength, 1000);
    assert.equal(info.stateBytes, 64);
    assert.equal(info.fingerprint, 'rwkv7|tiny|10|40|4x2+0|9|missing');
  });

  it('opens sessions of contextLength when no session length is given', async () => {
    const client = new RecordingClient();
    const port = new ClientEnginePort(client, { model: () => ({ modelId: 'm', path: '', info: fakeInfo }), contextLength: () => 777 });
    await port.openSession();
    assert.equal(client.calls[0].params.nCtx, 777);
  });

  it('maps engine errors to port errors and reads the length of an aborted feed from the engine when the error lacks it', async () => {
    const client = new RecordingClient();
    const port = new ClientEnginePort(client, { model: () => ({ modelId: 'm', path: '', info: fakeInfo }), contextLength: () => 10 });
    await assert.rejects(port.snapshot('s1'), (e: unknown) => e instanceof EngineError && e.code === 'invalid-argument');
    client.feedError = new ClientError('ABORTED', 'stopped');
    assert.deepEqual(await port.feed('s1', Int32Array.from([1, 2])), { nPast: 42, aborted: true });
    client.feedError = new ClientError('ABORTED', 'stopped', { nPast: 7 });
    assert.deepEqual(await port.feed('s1', Int32Array.from([1, 2])), { nPast: 7, aborted: true });
    client.feedError = new ClientError('OUT_OF_MEMORY', 'no room');
    await assert.rejects(port.feed('s1', Int32Array.from([1])), (e: unknown) => e instanceof EngineError && e.code === 'out-of-memory');
    client.feedError = new TypeError('not an engine error');
    await assert.rejects(port.feed('s1', Int32Array.from([1])), TypeError);
  });

  it('turns an AbortSignal into a cancelled token for the feed', async () => {
    let seen: { isCancellationRequested: boolean } | undefined;
    const recorder = new RecordingClient();
    const client: EngineRequester = {
      request: recorder.request.bind(recorder),
      feed: async (params, options) => {
        seen = options?.token;
        return { nPast: params.tokens!.length, fed: 0, elapsedMs: 0, tokensPerSecond: 0 };
      },
    };
    const port = new ClientEnginePort(client, { model: () => ({ modelId: 'm', path: '', info: fakeInfo }), contextLength: () => 10 });
    const ac = new AbortController();
    await port.feed('s1', Int32Array.from([1]), { signal: ac.signal });
    assert.equal(seen?.isCancellationRequested, false);
    ac.abort();
    assert.equal(seen?.isCancellationRequested, true);
  });
});
