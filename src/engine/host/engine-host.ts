// The engine process's state and request handlers: models, sessions and
// snapshots by id, over the native addon. Transport-free: main.ts wires it
// to the JSON-RPC connection.
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { CancellationToken } from 'vscode-jsonrpc';

import { base64ToBytes, bytesToBase64, float32ToBase64 } from '../../common/binary';
import { ABORTED, EngineError } from '../../common/errors';
import { encodeNpyFloat32 } from '../../common/npy';
import {
  DeviceSpec,
  EngineMethod,
  EngineNotifications,
  EngineStats,
  HostErrorCodes,
  NotificationMethod,
  ParamsOf,
  ProgressNotification,
  ResultOf,
  ThroughputStats,
} from '../../protocol/engine';
import type { Addon, LoadOptions, NativeModel, NativeModelInfo, NativeSession, NativeSnapshot } from './addon';
import { WorkQueue } from './work-queue';

export type Notify = <N extends NotificationMethod>(method: N, params: EngineNotifications[N]) => void;
export type Handler<M extends EngineMethod> = (params: ParamsOf<M>, token: CancellationToken) => Promise<ResultOf<M>>;

interface ModelEntry {
  id: string;
  path: string;
  native: NativeModel;
  info: NativeModelInfo;
}
interface SessionEntry {
  id: string;
  model: ModelEntry;
  native: NativeSession;
  queue: WorkQueue;
}
interface SnapshotEntry {
  id: string;
  model: ModelEntry;
  native: NativeSnapshot;
}

/** How often progress notifications may be sent (the last one always is). */
const PROGRESS_INTERVAL_MS = 100;

class Throughput {
  tokens = 0;
  elapsedMs = 0;
  last?: ThroughputStats;

  add(tokens: number, elapsedMs: number): ThroughputStats {
    this.tokens += tokens;
    this.elapsedMs += elapsedMs;
    this.last = { tokens, elapsedMs, tokensPerSecond: rate(tokens, elapsedMs) };
    return this.last;
  }
  total(): ThroughputStats {
    return { tokens: this.tokens, elapsedMs: this.elapsedMs, tokensPerSecond: rate(this.tokens, this.elapsedMs) };
  }
}

function rate(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}

export function parseDevice(spec: DeviceSpec | undefined): Pick<LoadOptions, 'device' | 'deviceIndex'> {
  if (spec === undefined || spec === 'auto') return { device: 'auto' };
  if (spec === 'cpu') return { device: 'cpu' };
  const m = /^cuda(?::(\d+))?$/.exec(spec);
  if (!m) throw new EngineError(HostErrorCodes.invalidParams, `device must be auto, cpu, cuda or cuda:N, not '${spec}'`);
  return { device: 'cuda', deviceIndex: m[1] === undefined ? 0 : Number(m[1]) };
}

/** Writes through a temporary file so a reader never sees half a file. */
async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, data);
  await fsp.rename(tmp, file);
}

export class EngineHost {
  private readonly models = new Map<string, ModelEntry>();
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly snapshots = new Map<string, SnapshotEntry>();
  private nextId = 1;
  private readonly started = Date.now();
  private readonly prefillStats = new Throughput();
  private readonly decodeStats = new Throughput();
  private addonValue: Addon | null = null;
  private addonFailure: string | null = null;
  private addonPath: string | null = null;

  constructor(
    private readonly addonLoader: () => { addon: Addon; path: string },
    private readonly notify: Notify,
    readonly epoch: number,
    private readonly onShutdown: () => void,
  ) {}

  private addon(): Addon {
    if (this.addonValue) return this.addonValue;
    if (this.addonFailure === null) {
      try {
        const loaded = this.addonLoader();
        this.addonValue = loaded.addon;
        this.addonPath = loaded.path;
        return loaded.addon;
      } catch (e) {
        this.addonFailure = e instanceof Error ? e.message : String(e);
      }
    }
    throw new EngineError(HostErrorCodes.addonMissing, `the engine addon is not available: ${this.addonFailure}`);
  }

  private newId(kind: 'm' | 's' | 'p'): string {
    return `${kind}${this.epoch}.${this.nextId++}`;
  }

  private model(id: string): ModelEntry {
    const m = this.models.get(id);
    if (!m) throw new EngineError(HostErrorCodes.unknownId, `unknown model ${id} (unloaded, or the engine restarted)`);
    return m;
  }
  private session(id: string): SessionEntry {
    const s = this.sessions.get(id);
    if (!s) throw new EngineError(HostErrorCodes.unknownId, `unknown session ${id} (dropped, or the engine restarted)`);
    return s;
  }
  private snapshotEntry(id: string): SnapshotEntry {
    const s = this.snapshots.get(id);
    if (!s) throw new EngineError(HostErrorCodes.unknownId, `unknown snapshot ${id} (dropped, or the engine restarted)`);
    return s;
  }

  private addSession(model: ModelEntry, native: NativeSession): SessionEntry {
    const entry: SessionEntry = { id: this.newId('s'), model, native, queue: new WorkQueue() };
    this.sessions.set(entry.id, entry);
    return entry;
  }

  /**
   * Runs `work` on the session after the calls queued before it. A token
   * cancelled while waiting stops the call before it starts; cancelled while
   * running, it aborts the engine call.
   */
  private onSession<T>(s: SessionEntry, token: CancellationToken, work: () => Promise<T>): Promise<T> {
    return s.queue.run(async () => {
      if (this.sessions.get(s.id) !== s) throw new EngineError(HostErrorCodes.unknownId, `session ${s.id} was dropped`);
      if (token.isCancellationRequested) throw new EngineError(ABORTED, 'cancelled before it started', { nPast: s.native.nPast });
      const sub = token.onCancellationRequested(() => s.native.abort());
      try {
        return await work();
      } finally {
        sub.dispose();
      }
    });
  }

  /** Progress reporter with a rate limit; `final` always goes out. */
  private progress(progressId: string | undefined, phase: ProgressNotification['phase'], unit: ProgressNotification['unit']) {
    const start = Date.now();
    let lastSent = 0;
    return (done: number, total: number, final = false): void => {
      if (progressId === undefined) return;
      const now = Date.now();
      if (!final && now - lastSent < PROGRESS_INTERVAL_MS && done < total) return;
      lastSent = now;
      const elapsedMs = now - start;
      const n: ProgressNotification = { progressId, phase, done, total, unit, elapsedMs };
      if (unit === 'tokens') n.tokensPerSecond = rate(done, elapsedMs);
      this.notify('progress', n);
    };
  }

  /** Tokenizes and prefills; returns how many tokens went in. */
  private async feedTokens(s: SessionEntry, tokens: Int32Array | number[], progressId: string | undefined, wantLogits: boolean) {
    const report = this.progress(progressId, 'feed', 'tokens');
    const start = Date.now();
    report(0, tokens.length, true);
    const before = s.native.nPast;
    try {
      const r = await s.native.prefill(tokens, { logits: wantLogits }, (done, total) => report(done, total));
      const elapsedMs = Date.now() - start;
      report(tokens.length, tokens.length, true);
      const t = this.prefillStats.add(tokens.length, elapsedMs);
      return { nPast: r.nPast, fed: tokens.length, logits: r.logits, elapsedMs, tokensPerSecond: t.tokensPerSecond };
    } catch (e) {
      const nPast = (e as { nPast?: number }).nPast;
      if (nPast !== undefined) this.prefillStats.add(nPast - before, Date.now() - start);
      throw e;
    }
  }

  private tokensOf(model: ModelEntry, text: string | undefined, tokens: number[] | undefined): Int32Array | number[] {
    if (text !== undefined && tokens !== undefined) throw new EngineError(HostErrorCodes.invalidParams, 'give text or tokens, not both');
    if (text !== undefined) return model.native.tokenize(text);
    return tokens ?? [];
  }

  private dropSnapshotsOf(model: ModelEntry): void {
    for (const [id, snap] of this.snapshots) {
      if (snap.model === model) {
        snap.native.dispose();
        this.snapshots.delete(id);
      }
    }
  }

  private dropSessionEntry(s: SessionEntry): void {
    this.sessions.delete(s.id);
    s.native.dispose(); // aborts a running call; the engine frees it when that call ends
  }

  // ------------------------------------------------------------ handlers

  readonly handlers: { [M in EngineMethod]: Handler<M> } = {
    hello: async () => {
      let abiVersion: number | null = null;
      let buildInfo = '';
      try {
        const addon = this.addon();
        abiVersion = addon.abiVersion();
        buildInfo = addon.buildInfo();
      } catch {
        // reported through addonError
      }
      return {
        pid: process.pid,
        epoch: this.epoch,
        abiVersion,
        buildInfo,
        addonPath: this.addonPath,
        ...(this.addonFailure !== null ? { addonError: this.addonFailure } : {}),
      };
    },

    loadModel: async (p) => {
      const addon = this.addon();
      const report = this.progress(p.progressId, 'load', 'tensors');
      const start = Date.now();
      const file = path.resolve(p.path);
      const native = await addon.loadModel(file, { ...parseDevice(p.device), threads: p.threads, useMmap: p.useMmap }, (d, t) =>
        report(d, t),
      );
      const entry: ModelEntry = { id: this.newId('m'), path: file, native, info: native.info() };
      this.models.set(entry.id, entry);
      const chatTemplate = native.metaString('tokenizer.chat_template');
      return {
        modelId: entry.id,
        info: entry.info,
        ...(chatTemplate !== undefined ? { chatTemplate } : {}),
        elapsedMs: Date.now() - start,
      };
    },

    unloadModel: async (p) => {
      const m = this.model(p.modelId);
      for (const s of [...this.sessions.values()]) if (s.model === m) this.dropSessionEntry(s);
      this.dropSnapshotsOf(m);
      this.models.delete(m.id);
      m.native.dispose();
      return {};
    },

    modelInfo: async (p) => this.model(p.modelId).native.info(),

    metaString: async (p) => ({ value: this.model(p.modelId).native.metaString(p.key) ?? null }),

    tokenize: async (p) => ({ tokens: Array.from(this.model(p.modelId).native.tokenize(p.text)) }),

    detokenize: async (p) => ({ text: this.model(p.modelId).native.detokenize(p.tokens) }),

    openSession: async (p) => {
      const m = this.model(p.modelId);
      const s = this.addSession(m, m.native.newSession({ nCtx: p.nCtx, kvType: p.kvType, prefillChunk: p.prefillChunk }));
      return { sessionId: s.id, nPast: 0 };
    },

    forkSession: async (p, token) => {
      const parent = this.session(p.sessionId);
      return this.onSession(parent, token, async () => {
        const child = this.addSession(parent.model, parent.native.fork());
        return { sessionId: child.id, nPast: child.native.nPast };
      });
    },

    dropSession: async (p) => {
      this.dropSessionEntry(this.session(p.sessionId));
      return {};
    },

    resetSession: async (p, token) => {
      const s = this.session(p.sessionId);
      return this.onSession(s, token, async () => {
        s.native.reset();
        return { sessionId: s.id, nPast: s.native.nPast };
      });
    },

    sessionInfo: async (p, token) => {
      const s = this.session(p.sessionId);
      return this.onSession(s, token, async () => ({ sessionId: s.id, nPast: s.native.nPast }));
    },

    feed: async (p, token) => {
      const s = this.session(p.sessionId);
      const tokens = this.tokensOf(s.model, p.text, p.tokens);
      return this.onSession(s, token, async () => {
        const r = await this.feedTokens(s, tokens, p.progressId, p.wantLogits === true);
        return {
          nPast: r.nPast,
          fed: r.fed,
          elapsedMs: r.elapsedMs,
          tokensPerSecond: r.tokensPerSecond,
          ...(r.logits ? { logits: float32ToBase64(r.logits) } : {}),
        };
      });
    },

    allLogits: async (p, token) => {
      const s = this.session(p.sessionId);
      return this.onSession(s, token, async () => {
        const logits = await s.native.prefillAllLogits(p.tokens);
        const nVocab = s.model.info.nVocab;
        const rows = p.tokens.length;
        if (p.outPath !== undefined) {
          const out = path.resolve(p.outPath);
          await writeFileAtomic(out, encodeNpyFloat32(logits, [rows, nVocab]));
          return { nPast: s.native.nPast, rows, nVocab, outPath: out };
        }
        return { nPast: s.native.nPast, rows, nVocab, data: float32ToBase64(logits) };
      });
    },

    generate: async (p, token) => {
      const s = this.session(p.sessionId);
      const prompt = this.tokensOf(s.model, p.prompt, p.promptTokens);
      return this.onSession(s, token, async () => {
        const start = Date.now();
        if (prompt.length > 0) {
          try {
            await this.feedTokens(s, prompt, p.progressId, false);
          } catch (e) {
            if ((e as { code?: string }).code !== ABORTED) throw e;
            return { text: '', nGenerated: 0, stopReason: 'aborted' as const, nPast: s.native.nPast, elapsedMs: Date.now() - start, tokensPerSecond: 0 };
          }
        }
        const sampler = s.model.native.newSampler(p.sampler ?? {});
        // Pieces that arrive together go out as one notification.
        let text = '';
        let pendingText = '';
        let pendingTokens: number[] = [];
        const flush = () => {
          if (pendingText.length === 0 && pendingTokens.length === 0) return;
          this.notify('text', { streamId: p.streamId, text: pendingText, tokens: pendingTokens });
          pendingText = '';
          pendingTokens = [];
        };
        let flushScheduled = false;
        const decodeStart = Date.now();
        try {
          const r = await s.native.generate(sampler, { maxTokens: p.maxTokens, stop: p.stop, stopAtEos: p.stopAtEos }, (piece, tok) => {
            text += piece;
            pendingText += piece;
            if (tok >= 0) pendingTokens.push(tok); // -1: text held back until the end
            if (!flushScheduled) {
              flushScheduled = true;
              setImmediate(() => {
                flushScheduled = false;
                flush();
              });
            }
          });
          flush(); // before the response, so every piece precedes it on the wire
          const t = this.decodeStats.add(r.nGenerated, Date.now() - decodeStart);
          return { text, nGenerated: r.nGenerated, stopReason: r.stopReason, nPast: r.nPast, elapsedMs: Date.now() - start, tokensPerSecond: t.tokensPerSecond };
        } finally {
          flush();
          sampler.dispose();
        }
      });
    },

    rewind: async (p, token) => {
      const s = this.session(p.sessionId);
      return this.onSession(s, token, async () => {
        if (p.snapshotId !== undefined) {
          s.native.restore(this.snapshotEntry(p.snapshotId).native);
          return { sessionId: s.id, nPast: s.native.nPast };
        }
        if (p.nPast === undefined) throw new EngineError(HostErrorCodes.invalidParams, 'rewind needs snapshotId or nPast');
        if (p.nPast === s.native.nPast) return { sessionId: s.id, nPast: p.nPast };
        if (p.nPast === 0) {
          s.native.reset();
          return { sessionId: s.id, nPast: 0 };
        }
        // The recurrent state cannot be rewound by itself: use a snapshot at
        // that position whose token prefix matches (the engine checks it).
        let lastError: unknown = null;
        for (const snap of this.snapshots.values()) {
          if (snap.model !== s.model || snap.native.nPast !== p.nPast) continue;
          try {
            s.native.restore(snap.native);
            return { sessionId: s.id, nPast: s.native.nPast };
          } catch (e) {
            lastError = e;
          }
        }
        const why = lastError instanceof Error ? ` (${lastError.message})` : '';
        throw new EngineError('STATE_MISMATCH', `no snapshot of this session at ${p.nPast} tokens${why}; take one there to rewind to it`);
      });
    },

    snapshot: async (p, token) => {
      const s = this.session(p.sessionId);
      return this.onSession(s, token, async () => {
        const native = s.native.snapshot();
        const entry: SnapshotEntry = { id: this.newId('p'), model: s.model, native };
        this.snapshots.set(entry.id, entry);
        return { snapshotId: entry.id, nPast: native.nPast };
      });
    },

    restore: async (p, token) => this.handlers.rewind({ sessionId: p.sessionId, snapshotId: p.snapshotId }, token),

    dropSnapshot: async (p) => {
      const snap = this.snapshotEntry(p.snapshotId);
      this.snapshots.delete(snap.id);
      snap.native.dispose();
      return {};
    },

    exportSnapshot: async (p) => {
      const bytes = await this.snapshotEntry(p.snapshotId).native.serialize();
      if (p.path !== undefined) {
        await writeFileAtomic(path.resolve(p.path), bytes);
        return { size: bytes.byteLength, path: path.resolve(p.path) };
      }
      return { size: bytes.byteLength, bytes: bytesToBase64(bytes) };
    },

    importSnapshot: async (p) => {
      const m = this.model(p.modelId);
      const native = await m.native.deserializeSnapshot(await this.bytesOf(p));
      const entry: SnapshotEntry = { id: this.newId('p'), model: m, native };
      this.snapshots.set(entry.id, entry);
      return { snapshotId: entry.id, nPast: native.nPast };
    },

    saveSession: async (p, token) => {
      const s = this.session(p.sessionId);
      return this.onSession(s, token, async () => {
        const bytes = await s.native.save();
        if (p.path !== undefined) {
          await writeFileAtomic(path.resolve(p.path), bytes);
          return { size: bytes.byteLength, path: path.resolve(p.path) };
        }
        return { size: bytes.byteLength, bytes: bytesToBase64(bytes) };
      });
    },

    loadSession: async (p, token) => {
      const s = this.session(p.sessionId);
      const bytes = await this.bytesOf(p);
      return this.onSession(s, token, async () => {
        const r = await s.native.load(bytes);
        return { sessionId: s.id, nPast: r.nPast };
      });
    },

    convert: async (p) => {
      const addon = this.addon();
      const report = this.progress(p.progressId, 'convert', 'tensors');
      const start = Date.now();
      const output = path.resolve(p.output);
      await addon.convert(
        path.resolve(p.input),
        output,
        { type: p.type, vocab: p.vocab === undefined ? undefined : path.resolve(p.vocab), name: p.name, attnChunkSize: p.attnChunkSize, attnTopK: p.attnTopK },
        (d, t) => report(d, t),
      );
      const size = (await fsp.stat(output)).size;
      return { output, size, elapsedMs: Date.now() - start };
    },

    stats: async () => this.stats(),

    shutdown: async () => {
      this.disposeAll();
      // Leave time for the response to go out; the client also disconnects.
      setTimeout(() => this.onShutdown(), 200).unref();
      return {};
    },
  };

  private async bytesOf(p: { bytes?: string; path?: string }): Promise<Uint8Array> {
    if ((p.bytes === undefined) === (p.path === undefined)) throw new EngineError(HostErrorCodes.invalidParams, 'give bytes or path, exactly one');
    return p.bytes !== undefined ? base64ToBytes(p.bytes) : new Uint8Array(await fsp.readFile(path.resolve(p.path!)));
  }

  stats(): EngineStats {
    const mem = process.memoryUsage();
    return {
      pid: process.pid,
      epoch: this.epoch,
      uptimeMs: Date.now() - this.started,
      models: [...this.models.values()].map((m) => ({
        modelId: m.id,
        path: m.path,
        architecture: m.info.architecture,
        device: m.info.device,
        deviceNote: m.info.deviceNote,
        weightBytes: m.info.weightBytes,
      })),
      sessions: [...this.sessions.values()].map((s) => ({ sessionId: s.id, modelId: s.model.id, nPast: s.native.nPast, busy: s.queue.size > 0 })),
      snapshots: this.snapshots.size,
      prefill: this.prefillStats.total(),
      decode: this.decodeStats.total(),
      ...(this.prefillStats.last ? { lastPrefill: this.prefillStats.last } : {}),
      ...(this.decodeStats.last ? { lastDecode: this.decodeStats.last } : {}),
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, arrayBuffers: mem.arrayBuffers },
    };
  }

  /** Frees everything, children before their model. */
  disposeAll(): void {
    for (const s of [...this.sessions.values()]) this.dropSessionEntry(s);
    for (const snap of this.snapshots.values()) snap.native.dispose();
    this.snapshots.clear();
    for (const m of this.models.values()) m.native.dispose();
    this.models.clear();
  }
}
