// The context log's EnginePort over the engine client, shared by the CLI and
// the extension: one JSON-RPC request per port call, session and snapshot ids
// passed through, binary state as base64, errors mapped to the port's codes,
// an AbortSignal turned into request cancellation. The client is taken by its
// shape (src/engine/client's EngineClient fits), so src/core does not import it.
import * as fs from 'fs';

import { isEngineError } from '../../common/errors';
import { base64ToBytes, bytesToBase64 } from '../../common/binary';
import type { EngineMethod, FeedParams, FeedResult as WireFeedResult, ModelInfo, ParamsOf, ProgressNotification, ResultOf } from '../../protocol/engine';
import { CancelToken, tokenOf } from '../async/cancel';
import { EngineError, EngineErrorCode, EngineInfo, EnginePort, FeedOptions, FeedResult, SessionId, SnapshotId } from './ports';

/** What the port needs of the engine client. */
export interface EngineRequester {
  request<M extends EngineMethod>(method: M, params: ParamsOf<M>, token?: CancelToken): Promise<ResultOf<M>>;
  feed(params: Omit<FeedParams, 'progressId'>, options?: { token?: CancelToken; onProgress?: (p: ProgressNotification) => void }): Promise<WireFeedResult>;
}

/** A model loaded in the engine process. */
export interface PortModel {
  modelId: string;
  /** The model file (part of the fingerprint). */
  path: string;
  info: ModelInfo;
}

export interface ClientPortOptions {
  /** The model to use; awaited before every call (after an engine restart: the reloaded one). */
  model: () => PortModel | Promise<PortModel>;
  /** EngineInfo.contextLength: the most tokens the workspace stream may hold. */
  contextLength: () => number;
  /** n_ctx of the sessions openSession() opens (default: contextLength()); more leaves room for queries. */
  sessionLength?: () => number;
}

const CODES: Record<string, EngineErrorCode> = {
  INVALID_ARGUMENT: 'invalid-argument', IO: 'io', FORMAT: 'format', UNSUPPORTED: 'unsupported', SHAPE: 'shape',
  OUT_OF_MEMORY: 'out-of-memory', ABORTED: 'aborted', STATE_MISMATCH: 'state-mismatch', CONTEXT_FULL: 'context-full',
  DEVICE: 'device', INTERNAL: 'internal',
};

/** The port's error for an engine failure (the engine's status name mapped; anything else 'internal'). */
export function toPortError(e: unknown): unknown {
  if (isEngineError(e)) return new EngineError(CODES[e.code] ?? 'internal', e.message);
  return e;
}

/** A model's identity for reusing saved contexts: architecture, shape, weights and the file's size and time. */
export function fingerprintOf(m: PortModel): string {
  let file = 'missing';
  try {
    const st = fs.statSync(m.path);
    file = `${st.size}:${Math.floor(st.mtimeMs)}`;
  } catch {
    // not a local file: saved contexts still need the same shape and weights size
  }
  const i = m.info;
  return [i.architecture, i.name, i.nParams, i.weightBytes, `${i.nEmbd}x${i.nLayer}+${i.nAttnLayer}`, i.nVocab, file].join('|');
}

export class ClientEnginePort implements EnginePort {
  constructor(private readonly client: EngineRequester, private readonly options: ClientPortOptions) {}

  private async call<T>(fn: (m: PortModel) => Promise<T>): Promise<T> {
    const m = await this.options.model();
    try {
      return await fn(m);
    } catch (e) {
      throw toPortError(e);
    }
  }

  info(): Promise<EngineInfo> {
    return this.call(async (m) => ({ fingerprint: fingerprintOf(m), contextLength: this.options.contextLength(), stateBytes: m.info.stateBytes }));
  }

  tokenize(text: string): Promise<Int32Array> {
    return this.call(async (m) => Int32Array.from((await this.client.request('tokenize', { modelId: m.modelId, text })).tokens));
  }

  openSession(): Promise<SessionId> {
    // Sized once the model is there: the lengths may depend on it (its device).
    return this.call(async (m) => {
      const nCtx = (this.options.sessionLength ?? this.options.contextLength)();
      return (await this.client.request('openSession', { modelId: m.modelId, nCtx })).sessionId;
    });
  }

  dropSession(session: SessionId): Promise<void> {
    return this.call(async () => void (await this.client.request('dropSession', { sessionId: session })));
  }

  nPast(session: SessionId): Promise<number> {
    return this.call(async () => (await this.client.request('sessionInfo', { sessionId: session })).nPast);
  }

  feed(session: SessionId, tokens: Int32Array, options: FeedOptions = {}): Promise<FeedResult> {
    return this.call(async () => {
      try {
        const r = await this.client.feed(
          { sessionId: session, tokens: Array.from(tokens) },
          {
            ...(options.signal ? { token: tokenOf(options.signal) } : {}),
            ...(options.onProgress ? { onProgress: (p: ProgressNotification) => options.onProgress!(p.done, p.total) } : {}),
          },
        );
        return { nPast: r.nPast, aborted: false };
      } catch (e) {
        // An abort keeps the chunks fed so far; the engine says how many (else ask).
        if (isEngineError(e, 'ABORTED')) return { nPast: e.nPast ?? (await this.client.request('sessionInfo', { sessionId: session })).nPast, aborted: true };
        throw e;
      }
    });
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
    return this.call(async () => base64ToBytes((await this.client.request('saveSession', { sessionId: session })).bytes ?? ''));
  }

  loadSession(session: SessionId, bytes: Uint8Array): Promise<void> {
    return this.call(async () => void (await this.client.request('loadSession', { sessionId: session, bytes: bytesToBase64(bytes) })));
  }

  saveSnapshot(snapshot: SnapshotId): Promise<Uint8Array> {
    return this.call(async () => base64ToBytes((await this.client.request('exportSnapshot', { snapshotId: snapshot })).bytes ?? ''));
  }

  loadSnapshot(bytes: Uint8Array): Promise<SnapshotId> {
    return this.call(async (m) => (await this.client.request('importSnapshot', { modelId: m.modelId, bytes: bytesToBase64(bytes) })).snapshotId);
  }
}
