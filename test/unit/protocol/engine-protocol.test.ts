// The engine protocol: method names, error mapping, binary payloads, and
// round trips over a real vscode-jsonrpc connection pair (in memory).
import assert from 'node:assert/strict';
import { PassThrough } from 'stream';
import { describe, it } from 'node:test';
import { CancellationToken, CancellationTokenSource, createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';

import { base64ToBytes, base64ToFloat32, bytesToBase64, float32ToBase64 } from '../../../src/common/binary';
import { EngineError } from '../../../src/common/errors';
import { decodeNpyFloat32, encodeNpyFloat32 } from '../../../src/common/npy';
import {
  ENGINE_ERROR,
  ENGINE_METHODS,
  fromResponseError,
  GenerateResult,
  notificationType,
  requestType,
  toResponseError,
  wireName,
} from '../../../src/protocol/engine';

/** Two connected endpoints over in-memory streams. */
function pair() {
  const up = new PassThrough();
  const down = new PassThrough();
  const client = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  const server = createMessageConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
  return { client, server };
}

describe('engine protocol', () => {
  it('names every method under rwkvx/ and lists each once', () => {
    assert.equal(wireName('feed'), 'rwkvx/feed');
    assert.equal(requestType('generate').method, 'rwkvx/generate');
    assert.equal(notificationType('text').method, 'rwkvx/text');
    assert.equal(new Set(ENGINE_METHODS).size, ENGINE_METHODS.length);
    for (const m of ['hello', 'loadModel', 'openSession', 'forkSession', 'dropSession', 'feed', 'generate', 'rewind', 'snapshot', 'restore', 'dropSnapshot', 'saveSession', 'loadSession', 'stats', 'shutdown'] as const) {
      assert.ok(ENGINE_METHODS.includes(m), m);
    }
  });

  it('maps errors to responses and back, keeping code and nPast', () => {
    const engineErr = Object.assign(new Error("cannot open 'x.gguf'"), { code: 'IO' });
    const r = toResponseError(engineErr);
    assert.equal(r.code, ENGINE_ERROR);
    assert.deepEqual(r.data, { code: 'IO' });
    const back = fromResponseError(r);
    assert.ok(back instanceof EngineError);
    assert.equal(back.code, 'IO');
    assert.equal(back.message, "cannot open 'x.gguf'");
    const aborted = fromResponseError(toResponseError(new EngineError('ABORTED', 'stopped', { nPast: 48 })));
    assert.equal(aborted.code, 'ABORTED');
    assert.equal(aborted.nPast, 48);
    assert.equal(fromResponseError(toResponseError('plain string')).code, 'ERR_INTERNAL');
    assert.equal(fromResponseError(new ResponseError(-32601, 'Unhandled method x')).code, 'JSONRPC_-32601');
  });

  it('round-trips float32 and bytes through base64, and float32 .npy files', () => {
    const f = new Float32Array([0, -1.5, 3.25, 1e-30, -Infinity]);
    assert.deepEqual(base64ToFloat32(float32ToBase64(f)), f);
    const offset = new Float32Array(new Float32Array([9, 8, 7, 6]).buffer, 4, 2);
    assert.deepEqual(Array.from(base64ToFloat32(float32ToBase64(offset))), [8, 7]);
    const b = new Uint8Array([0, 255, 10, 13]);
    assert.deepEqual(base64ToBytes(bytesToBase64(b)), b);
    const data = Float32Array.from({ length: 6 }, (_, i) => i / 3);
    const npy = encodeNpyFloat32(data, [2, 3]);
    assert.equal(npy.subarray(0, 6).toString('latin1'), '\x93NUMPY');
    assert.equal((npy.readUInt16LE(8) + 10) % 64, 0, 'header padded to 64 bytes');
    const read = decodeNpyFloat32(npy);
    assert.deepEqual(read.shape, [2, 3]);
    assert.deepEqual(read.data, data);
    assert.deepEqual(decodeNpyFloat32(encodeNpyFloat32(new Float32Array([1, 2]), [2])).shape, [2]);
    assert.throws(() => encodeNpyFloat32(data, [4, 2]), /shape/);
  });

  it('carries typed requests, streamed notifications in order, errors and cancellation', async () => {
    const { client, server } = pair();
    server.onRequest(requestType('tokenize'), async (p) => ({ tokens: Array.from(p.text, (c) => c.charCodeAt(0)) }));
    server.onRequest(requestType('generate'), async (p, token: CancellationToken): Promise<GenerateResult> => {
      let text = '';
      for (let i = 0; i < 50; i++) {
        if (token.isCancellationRequested) return { text, nGenerated: i, stopReason: 'aborted', nPast: i, elapsedMs: 1, tokensPerSecond: 0 };
        const piece = `${i},`;
        text += piece;
        void server.sendNotification(notificationType('text'), { streamId: p.streamId, text: piece, tokens: [i] });
        await new Promise((r) => setImmediate(r));
      }
      return { text, nGenerated: 50, stopReason: 'maxTokens', nPast: 50, elapsedMs: 1, tokensPerSecond: 0 };
    });
    server.onRequest(requestType('loadModel'), async (p) => {
      throw toResponseError(Object.assign(new Error(`cannot open '${p.path}'`), { code: 'IO' }));
    });
    server.listen();
    client.listen();

    assert.deepEqual(await client.sendRequest(requestType('tokenize'), { modelId: 'm0.1', text: 'AB' }), { tokens: [65, 66] });

    const seen: number[] = [];
    client.onNotification(notificationType('text'), (n) => {
      assert.equal(n.streamId, 'g1');
      seen.push(n.tokens[0]);
    });
    const full = await client.sendRequest(requestType('generate'), { sessionId: 's0.1', streamId: 'g1', maxTokens: 50 });
    assert.equal(full.stopReason, 'maxTokens');
    assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i), 'every notification before the response, in order');

    const source = new CancellationTokenSource();
    seen.length = 0;
    const cut = client.sendRequest(requestType('generate'), { sessionId: 's0.1', streamId: 'g1' }, source.token);
    setTimeout(() => source.cancel(), 0);
    const r = await cut;
    assert.equal(r.stopReason, 'aborted');
    assert.equal(seen.length, r.nGenerated);

    await assert.rejects(client.sendRequest(requestType('loadModel'), { path: '/x.gguf' }), (e: unknown) => {
      const err = fromResponseError(e);
      return err.code === 'IO' && /x\.gguf/.test(err.message);
    });
    client.dispose();
    server.dispose();
  });
});
