// The context log's engine port (src/core/context/ports.ts) over the engine
// client: one protocol request per port call, errors mapped to the port's
// codes, AbortSignal to cancellation. The CLI plugs this into the context log.
import * as fs from 'fs';

import { cancellationFromSignal, EngineClient } from '../engine/client';
import { EngineError as ClientError, isEngineError } from '../common/errors';
import { base64ToBytes, bytesToBase64 } from '../common/binary';
import type { ModelInfo } from '../protocol/engine';
import { EngineError, EngineErrorCode, EngineInfo, EnginePort, FeedOptions, FeedResult, SessionId, SnapshotId } from '../core/context/ports';

const PORT_CODES: Record<string, EngineErrorCode> = {
  INVALID_ARGUMENT: 'invalid-argument',
  IO: 'io',
  FORMAT: 'format',
  UNSUPPORTED: 'unsupported',
  SHAPE: 'shape',
  OUT_OF_MEMORY: 'out-of-memory',
  ABORTED: 'aborted',
  STATE_MISMATCH: 'state-mismatch',
  CONTEXT_FULL: 'context-full',
  DEVICE: 'device',
};

/** The port's error for a client error: engine statuses map one to one, the rest is 'internal'. */
export function toPortError(e: unknown): unknown {
  if (!(e instanceof ClientError)) return e;
  return new EngineError(PORT_CODES[e.code] ?? 'internal', e.message);
}

export interface PortModel {
  modelId: string;
  path: string;
  info: ModelInfo;
}

export class ClientEnginePort implements EnginePort {
  constructor(
    private readonly client: EngineClient,
    private readonly model: PortModel,
    /** n_ctx of the sessions this port opens. */
    private readonly nCtx: number,
  ) {}

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toPortError(e);
    }
  }

  async info(): Promise<EngineInfo> {
    const i = this.model.info;
    // Same weights, same file: saved sessions of another model or file are not reused.
    let file = '';
    try {
      const st = fs.statSync(this.model.path);
      file = `${st.size}:${Math.floor(st.mtimeMs)}`;
    } catch {
      // not a local file (kept out of the fingerprint)
    }
    return {
      fingerprint: [i.architecture, i.name, i.nParams, i.weightBytes, i.nVocab, file].join('|'),
      contextLength: this.nCtx,
      stateBytes: i.stateBytes,
    };
  }

  tokenize(text: string): Promise<Int32Array> {
    return this.call(async () => Int32Array.from((await this.client.request('tokenize', { modelId: this.model.modelId, text })).tokens));
  }

  openSession(): Promise<SessionId> {
    return this.call(async () => (await this.client.request('openSession', { modelId: this.model.modelId, nCtx: this.nCtx })).sessionId);
  }

  dropSession(session: SessionId): Promise<void> {
    return this.call(async () => void (await this.client.request('dropSession', { sessionId: session })));
  }

  nPast(session: SessionId): Promise<number> {
    return this.call(async () => (await this.client.request('sessionInfo', { sessionId: session })).nPast);
  }

  async feed(session: SessionId, tokens: Int32Array, options: FeedOptions = {}): Promise<FeedResult> {
    try {
      const r = await this.client.feed(
        { sessionId: session, tokens: Array.from(tokens) },
        {
          ...(options.signal ? { token: cancellationFromSignal(options.signal) } : {}),
          ...(options.onProgress ? { onProgress: (p) => options.onProgress!(p.done, p.total) } : {}),
        },
      );
      return { nPast: r.nPast, aborted: false };
    } catch (e) {
      if (isEngineError(e, 'ABORTED') && e.nPast !== undefined) return { nPast: e.nPast, aborted: true };
      throw toPortError(e);
    }
  }

  snapshot(session: SessionId): Promise<SnapshotId> {
    return this.call(async () => (await this.client.request('snapshot', { sessionId: session })).snapshotId);
  }

  restore(session: SessionId, snapshot: SnapshotId): Promise<void> {
    return this.call(async () => void (await this.client.request('restore', { sessionId: session, snapshotId: snapshot })));
  }

  dropSnapshot(snapshot: SnapshotId): Promise<void> {
    return this.call(async () => void (await this.client.request('dropSnapshot', { snapshotId: snapshot })));
  }

  fork(session: SessionId): Promise<SessionId> {
    return this.call(async () => (await this.client.request('forkSession', { sessionId: session })).sessionId);
  }

  saveSession(session: SessionId): Promise<Uint8Array> {
    return this.call(async () => base64ToBytes((await this.client.request('saveSession', { sessionId: session })).bytes!));
  }

  loadSession(session: SessionId, bytes: Uint8Array): Promise<void> {
    return this.call(async () => void (await this.client.request('loadSession', { sessionId: session, bytes: bytesToBase64(bytes) })));
  }

  saveSnapshot(snapshot: SnapshotId): Promise<Uint8Array> {
    return this.call(async () => base64ToBytes((await this.client.request('exportSnapshot', { snapshotId: snapshot })).bytes!));
  }

  loadSnapshot(bytes: Uint8Array): Promise<SnapshotId> {
    return this.call(async () => (await this.client.request('importSnapshot', { modelId: this.model.modelId, bytes: bytesToBase64(bytes) })).snapshotId);
  }
}
