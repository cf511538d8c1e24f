// The context log's EnginePort over the engine client: one JSON-RPC request
// per port call, session and snapshot ids passed through, binary state as
// base64, errors mapped to the port's codes. The model is whatever the
// EngineService has loaded now (after a restart: the reloaded one).
import * as fs from 'fs';

import { ABORTED, isEngineError } from '../../common/errors';
import { cancellationFromSignal } from '../../engine/client';
import {
  EngineError as PortError,
  EngineErrorCode,
  EngineInfo,
  EnginePort,
  FeedOptions,
  FeedResult,
  SessionId,
  SnapshotId,
} from '../../core/context/ports';
import type { EngineService, LoadedModel } from './engineService';

const CODES: Record<string, EngineErrorCode> = {
  INVALID_ARGUMENT: 'invalid-argument', IO: 'io', FORMAT: 'format', UNSUPPORTED: 'unsupported', SHAPE: 'shape',
  OUT_OF_MEMORY: 'out-of-memory', ABORTED: 'aborted', STATE_MISMATCH: 'state-mismatch', CONTEXT_FULL: 'context-full',
  DEVICE: 'device', INTERNAL: 'internal',
};

/** The port's error for an engine failure (the engine's status name mapped; anything else 'internal'). */
export function toPortError(e: unknown): unknown {
  if (isEngineError(e)) return new PortError(CODES[e.code] ?? 'internal', e.message);
  return e;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const fromB64 = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? '', 'base64'));

/** A model's identity for reusing saved contexts: architecture, shape and the file's size and time. */
export function fingerprintOf(m: LoadedModel): string {
  let file = '';
  try {
    const st = fs.statSync(m.path);
    file = `${st.size}:${Math.floor(st.mtimeMs)}`;
  } catch {
    file = 'missing';
  }
  const i = m.info;
  return `${i.architecture}:${i.name}:${i.nParams}:${i.nEmbd}x${i.nLayer}+${i.nAttnLayer}:${i.nVocab}:${file}`;
}

export class ClientEnginePort implements EnginePort {
  /** Session lengths as the engine last reported them. */
  private readonly lengths = new Map<SessionId, number>();

  constructor(private readonly engine: EngineService, private readonly contextLength: () => number) {}

  private get client() {
    return this.engine.client;
  }

  private async call<T>(fn: (m: LoadedModel) => Promise<T>): Promise<T> {
    const m = await this.engine.ready();
    try {
      return await fn(m);
    } catch (e) {
      throw toPortError(e);
    }
  }

  info(): Promise<EngineInfo> {
    return this.call(async (m) => ({ fingerprint: fingerprintOf(m), contextLength: this.contextLength(), stateBytes: m.info.stateBytes }));
  }

  tokenize(text: string): Promise<Int32Array> {
    return this.call(async (m) => Int32Array.from((await this.client.request('tokenize', { modelId: m.modelId, text })).tokens));
  }

  openSession(): Promise<SessionId> {
    return this.call(async (m) => {
      const r = await this.client.request('openSession', { modelId: m.modelId, nCtx: this.contextLength() + 16_384 });
      this.lengths.set(r.sessionId, r.nPast);
      return r.sessionId;
    });
  }

  dropSession(session: SessionId): Promise<void> {
    this.lengths.delete(session);
    return this.call(async () => {
      await this.client.request('dropSession', { sessionId: session });
    });
  }

  nPast(session: SessionId): Promise<number> {
    return this.call(async () => {
      const known = this.lengths.get(session);
      if (known !== undefined) return known;
      const s = (await this.client.request('stats', {})).sessions.find((x) => x.sessionId === session);
      if (!s) throw new PortError('invalid-argument', `unknown session ${session}`);
      return s.nPast;
    });
  }

  async feed(session: SessionId, tokens: Int32Array, options: FeedOptions = {}): Promise<FeedResult> {
    await this.engine.ready();
    try {
      const r = await this.client.feed(
        { sessionId: session, tokens: Array.from(tokens) },
        {
          ...(options.signal ? { token: cancellationFromSignal(options.signal) } : {}),
          ...(options.onProgress ? { onProgress: (p: { done: number; total: number }) => options.onProgress!(p.done, p.total) } : {}),
        },
      );
      this.lengths.set(session, r.nPast);
      return { nPast: r.nPast, aborted: false };
    } catch (e) {
      if (isEngineError(e, ABORTED)) {
        this.lengths.delete(session);
        const nPast = e.nPast ?? (await this.nPast(session));
        this.lengths.set(session, nPast);
        return { nPast, aborted: true };
      }
      throw toPortError(e);
    }
  }

  snapshot(session: SessionId): Promise<SnapshotId> {
    return this.call(async () => (await this.client.request('snapshot', { sessionId: session })).snapshotId);
  }

  restore(session: SessionId, snapshot: SnapshotId): Promise<void> {
    return this.call(async () => {
      const r = await this.client.request('restore', { sessionId: session, snapshotId: snapshot });
      this.lengths.set(session, r.nPast);
    });
  }

  dropSnapshot(snapshot: SnapshotId): Promise<void> {
    return this.call(async () => {
      await this.client.request('dropSnapshot', { snapshotId: snapshot });
    });
  }

  fork(session: SessionId): Promise<SessionId> {
    return this.call(async () => {
      const r = await this.client.request('forkSession', { sessionId: session });
      this.lengths.set(r.sessionId, r.nPast);
      return r.sessionId;
    });
  }

  saveSession(session: SessionId): Promise<Uint8Array> {
    return this.call(async () => fromB64((await this.client.request('saveSession', { sessionId: session })).bytes));
  }

  loadSession(session: SessionId, bytes: Uint8Array): Promise<void> {
    return this.call(async () => {
      const r = await this.client.request('loadSession', { sessionId: session, bytes: b64(bytes) });
      this.lengths.set(session, r.nPast);
    });
  }

  saveSnapshot(snapshot: SnapshotId): Promise<Uint8Array> {
    return this.call(async () => fromB64((await this.client.request('exportSnapshot', { snapshotId: snapshot })).bytes));
  }

  loadSnapshot(bytes: Uint8Array): Promise<SnapshotId> {
    return this.call(async (m) => (await this.client.request('importSnapshot', { modelId: m.modelId, bytes: b64(bytes) })).snapshotId);
  }
}
