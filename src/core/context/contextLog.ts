// The context log: the whole workspace as one token stream in an engine
// session, ordered cold → hot, kept current as files change, persisted between
// sessions. See docs in ../../../docs and the design, section 3.
//
// Concurrency model: `current` (session + table) is never fed directly. An
// update forks it, rewinds/feeds the fork and swaps it in; a compaction builds
// a new stream beside it and swaps at the end. So a query can always fork the
// current session at once (stateLock only guards the short fork/swap/save
// calls). Updates, swaps and saves run one at a time on the job chain.
import * as path from 'node:path';
import { Discovery, type DiscoveryOptions, type IncludedFile, type SkippedEntry, type SkipReason } from '../workspace/discovery';
import { SyntaxOutliner } from '../syntax/outline';
import { planUpdate, type FileChange, type UpdatePlan } from './editPolicy';
import { ChangeQueue, type ChangeBatch, type QueueTiming } from './events';
import { Feeder } from './feeder';
import { hashText } from './hash';
import { Mutex } from './mutex';
import { orderFiles, DEFAULT_ORDER, type OrderOptions, type Tier } from './order';
import { BlobCache, loadContext, LoadError, saveContext } from './persistence';
import type {
  ClockPort, EngineInfo, EnginePort, FileSystemPort, Logger, SessionId, StoragePort, TimerId, WorkspaceEvent, WorkspaceFolder,
} from './ports';
import { ProgressTracker, type Phase, type ProgressEvent } from './progress';
import { deletedSegmentText, fileSegmentText, preambleText, type FilePart } from './segments';
import { DEFAULT_SPLIT, splitFile, type SplitOptions } from './split';
import { hotTokens, liveFiles, staleTokens, tableEnd, type Ckpt, type Seg, type Table } from './table';

export interface ContextOptions {
  /** Token budget of the stream (default: the engine's context length, at most 65,536). */
  budgetTokens?: number;
  /** Share of the budget a fresh stream leaves free for updates (default 0.1). */
  reserveShare?: number;
  /** The hot tail, where an edit rewinds instead of appending (default 4,096 tokens). */
  hotTailTokens?: number;
  /**
   * A hot file is rewound only when what follows it is at most this share of
   * its tokens (default 0.1, so an edit re-feeds at most its file + 10 %);
   * otherwise its copy goes stale and the new one is appended. Infinity:
   * always rewind inside the hot tail.
   */
  rewindSlack?: number;
  /** Checkpoints kept in the cold part, for compaction to resume from (default 16)… */
  maxColdCheckpoints?: number;
  /** …within this much snapshot memory, counted with the engine's state size (default 256 MiB)… */
  checkpointMemoryBytes?: number;
  /** …and at least this many tokens apart (default 4,096). */
  minCheckpointSpacing?: number;
  /** Segments fed per engine call when no checkpoint is wanted between them (default 8,192 tokens). */
  feedBatchTokens?: number;
  /** Compact when stale copies pass this share of the stream (default 0.25). */
  staleThreshold?: number;
  /** Compact after this long without events, if anything is stale (default 30 s; 0 = never). */
  idleCompactMs?: number;
  /** Save this long after the last change (default 5 s). */
  saveDebounceMs?: number;
  timing?: Partial<QueueTiming>;
  discovery?: DiscoveryOptions;
  split?: Partial<SplitOptions>;
  order?: Partial<Omit<OrderOptions, 'now' | 'recentEdits'>>;
  /** Tree-sitter for splitting huge files; null turns it off (blank-line splits only). */
  outliner?: SyntaxOutliner | null;
  /** Display paths edited recently, least recent first (a saved context brings its own). */
  recentEdits?: string[];
}

export interface ContextDeps {
  fs: FileSystemPort;
  engine: EnginePort;
  clock: ClockPort;
  folders: WorkspaceFolder[];
  /** Without storage nothing persists. */
  storage?: StoragePort;
  logger?: Logger;
}

export type ContextState = 'starting' | 'building' | 'ready' | 'updating' | 'paused' | 'error' | 'disposed';

export interface UpdateStats {
  files: number;
  /** Tokens fed again after a rewind (unchanged hot segments that followed the edit). */
  refedTokens: number;
  /** Tokens of new content (new versions, deletion notes). */
  newTokens: number;
  rewound: number;
  staled: number;
  ms: number;
}

export interface BuildStats {
  kind: 'build' | 'compact' | 'rebuild';
  reason: string;
  /** Tokens of the new stream taken over from the old session (not fed again). */
  reusedTokens: number;
  fedTokens: number;
  ms: number;
}

export interface ContextStatus {
  state: ContextState;
  compacting: boolean;
  tokensInContext: number;
  budgetTokens: number;
  staleTokens: number;
  staleShare: number;
  files: number;
  segments: number;
  hotTailTokens: number;
  filesLeftOut: number;
  skipped: Partial<Record<SkipReason, number>>;
  pendingChanges: number;
  lastUpdate?: UpdateStats;
  lastBuild?: BuildStats;
  /** How the session was obtained at start. */
  restore?: {
    reused: boolean; reason?: string; ms: number;
    /** Reading and checking the save, loading it into the engine. */
    loadMs?: number;
    /** Re-judging and hashing the workspace, feeding what changed. */
    catchUpMs?: number;
    /** Tokens fed to catch up with changes made while closed. */
    catchUpTokens?: number;
    /** Why the save was fitted to this budget again (it was saved under another one). */
    refit?: string;
  };
  lastSave?: { bytes: number; ms: number };
  error?: string;
}

export interface ContextReport {
  included: { path: string; tokens: number; segments: number; tier?: Tier }[];
  skipped: SkippedEntry[];
  leftOut: string[];
}

export interface QueryFork {
  session: SessionId;
  /** Tokens of context in the fork. */
  nPast: number;
  /** True while the first build is still running: the fork holds only what was read so far. */
  partial: boolean;
  drop(): Promise<void>;
}

interface Current {
  session: SessionId;
  table: Table;
}

const DEFAULTS = {
  reserveShare: 0.1, hotTailTokens: 4096, rewindSlack: 0.1, maxColdCheckpoints: 16,
  checkpointMemoryBytes: 256 * 1024 * 1024, minCheckpointSpacing: 4096, feedBatchTokens: 8192,
  staleThreshold: 0.25, idleCompactMs: 30_000, saveDebounceMs: 5000,
};
const DEFAULT_TIMING: QueueTiming = { unsavedDebounceMs: 750, batchMs: 150, maxWaitMs: 2000 };

class Aborted extends Error {}

/**
 * forkForQuery() found no stream and none is on the way: the context was
 * disposed, or opening it failed (the reason is in the message and in status().error).
 */
export class ContextUnavailableError extends Error {
  constructor(readonly reason: 'disposed' | 'failed', message: string) {
    super(message);
    this.name = 'ContextUnavailableError';
  }
}

export class ContextLog {
  private readonly engine: EnginePort;
  private readonly clock: ClockPort;
  private readonly discovery: Discovery;
  private readonly queue: ChangeQueue;
  private readonly o: typeof DEFAULTS & { budgetTokens: number };
  private readonly splitOpts: SplitOptions;
  private outliner: SyntaxOutliner | undefined;
  private info!: EngineInfo;
  private optionsKey = '';

  private current: Current | undefined;
  private readonly stateLock = new Mutex();
  private jobs: Promise<void> = Promise.resolve();
  private jobCount = 0;
  private heldBatch: ChangeBatch | undefined;
  private readonly overlays = new Map<string, string>();
  private recentEdits: string[] = [];
  private skipped: SkippedEntry[] = [];
  private tiers = new Map<string, Tier>();
  private readonly blobCache = new BlobCache();

  private compaction: Promise<void> | undefined;
  private compactAgain: string | undefined;
  /** Changes applied while a compaction runs: replayed onto its result before the swap. */
  private changesDuringCompaction: Map<string, FileChange | null> | undefined;
  private firstBuild: { feeder: Feeder; requests: ((f: QueryFork | Error) => void)[] } | undefined;

  private state: ContextState = 'starting';
  private paused = false;
  private pauseCtl = new AbortController();
  private disposed = false;
  private idleTimer: TimerId | undefined;
  private saveTimer: TimerId | undefined;
  private dirtySinceSave = false;
  private readonly progressListeners = new Set<(e: ProgressEvent) => void>();
  private readonly statusListeners = new Set<(s: ContextStatus) => void>();
  private stats: Pick<ContextStatus, 'lastUpdate' | 'lastBuild' | 'restore' | 'lastSave' | 'error'> = {};
  private readonly startedPromise: Promise<void>;
  private resolveStarted!: () => void;
  /**
   * Set while a stream is being opened (start, engine restart) and there is
   * none to fork yet; resolves once there is one (or a first build serving
   * forks), or the opening ended without one. Queries wait on it.
   */
  private opening: Promise<void> | undefined;
  private openingDone: (() => void) | undefined;

  constructor(private readonly deps: ContextDeps, options: ContextOptions = {}) {
    this.engine = deps.engine;
    this.clock = deps.clock;
    this.o = { ...DEFAULTS, ...stripUndefined(options), budgetTokens: options.budgetTokens ?? 0 };
    this.splitOpts = { ...DEFAULT_SPLIT, ...options.split };
    this.orderOpts = { ...DEFAULT_ORDER, ...options.order };
    this.outliner = options.outliner ?? undefined;
    this.outlinerOff = options.outliner === null;
    this.seedRecent = options.recentEdits;
    this.discovery = new Discovery(deps.fs, deps.folders, {
      ...options.discovery,
      onProgress: (done, total) => {
        options.discovery?.onProgress?.(done, total);
        this.emitProgress({
          phase: 'scan', filesDone: done, filesTotal: total, tokensDone: 0, tokensTotal: 0,
          tokensPerSecond: 0, secondsLeft: undefined, done: done === total,
        });
      },
    });
    this.queue = new ChangeQueue(deps.clock, { ...DEFAULT_TIMING, ...options.timing }, (b) => this.onBatch(b));
    this.startedPromise = new Promise((r) => (this.resolveStarted = r));
    this.beginOpening();
  }

  private readonly orderOpts: Omit<OrderOptions, 'now' | 'recentEdits'>;
  private get policy() { return { rewindSlack: this.o.rewindSlack }; }
  private readonly seedRecent: string[] | undefined;
  private readonly outlinerOff: boolean;

  // =============================================================== lifecycle

  /** Reopens the saved context or builds a fresh one. Resolves when a stream is current. */
  async start(): Promise<void> {
    try {
      if (this.seedRecent) this.recentEdits = [...this.seedRecent];
      this.info = await this.engine.info();
      if (!this.o.budgetTokens) this.o.budgetTokens = Math.min(this.info.contextLength, 65536);
      this.o.budgetTokens = Math.min(this.o.budgetTokens, this.info.contextLength);
      if (!this.outliner && !this.outlinerOff) this.outliner = await SyntaxOutliner.create();
      this.optionsKey = hashText(JSON.stringify({
        v: 1, split: this.splitOpts, preamble: preambleText(this.folderNames()), tree: this.outliner?.available ?? false,
      }));
      await this.enqueue(() => this.openOrBuild());
      this.resolveStarted();
    } catch (e) {
      this.fail(e);
      throw e;
    } finally {
      this.endOpening();
    }
  }

  /** From now until a stream can be forked, queries wait (see `opening`). */
  private beginOpening(): void {
    if (this.opening) return;
    this.opening = new Promise((r) => (this.openingDone = r));
  }

  /** A stream can be forked now, or the opening is over without one: waiting queries look again. */
  private endOpening(): void {
    const done = this.openingDone;
    this.opening = undefined;
    this.openingDone = undefined;
    done?.();
  }

  /** Resolves once start() has a stream (for callers that did not await start). */
  get started(): Promise<void> { return this.startedPromise; }

  private folderNames(): string[] {
    return this.discovery.workspaceFolders.map((f) => f.name);
  }

  private async openOrBuild(): Promise<void> {
    const t0 = this.clock.now();
    let reason = 'nothing saved';
    if (this.deps.storage) {
      try {
        this.setState('building');
        const loaded = await loadContext(this.deps.storage, this.engine, {
          fingerprint: this.info.fingerprint, optionsKey: this.optionsKey,
        }, this.blobCache);
        if (loaded) {
          const loadMs = this.clock.now() - t0;
          this.current = { session: loaded.session, table: loaded.table };
          this.endOpening(); // queries fork the reopened stream while it catches up
          this.recentEdits = loaded.recentEdits;
          const refit = this.refitReason(loaded.table, loaded.budgetTokens);
          // Bring it up to date with what changed on disk while closed; saved
          // under another budget, it becomes the stream a fresh build makes
          // for this one (reusing the common prefix).
          const refed = refit ? await this.refitAfterOpen(refit) : await this.reconcileAfterOpen();
          if (refed === undefined) return; // disposed meanwhile
          const ms = this.clock.now() - t0;
          this.stats.restore = { reused: true, ms, loadMs, catchUpMs: ms - loadMs, catchUpTokens: refed, ...(refit ? { refit } : {}) };
          this.deps.logger?.info(`context reopened: ${tableEnd(this.current.table)} tokens, ${refed} fed to catch up`);
          this.setState(this.paused ? 'paused' : 'ready');
          return;
        }
      } catch (e) {
        reason = e instanceof LoadError ? e.message : `could not reopen: ${(e as Error).message}`;
        this.deps.logger?.warn(`context: ${reason}; rebuilding`);
        if (this.current) { await this.discard(this.current); this.current = undefined; }
      }
    }
    this.stats.restore = { reused: false, reason, ms: 0 };
    await this.firstBuildRun();
    this.stats.restore.ms = this.clock.now() - t0;
  }

  private async firstBuildRun(): Promise<void> {
    this.setState('building');
    const built = await this.buildFresh({ kind: 'build', reason: 'first build', serveForks: true });
    if (!built) return; // disposed mid-build (a pause only waits inside buildFresh)
    this.current = built;
    this.setState(this.paused ? 'paused' : 'ready');
    this.scheduleSave(0);
  }

  /** Stops timers, aborts running work, saves, releases the engine objects. */
  async dispose(options: { save?: boolean } = {}): Promise<void> {
    if (this.disposed) return;
    this.queue.dispose();
    this.clearTimer('idleTimer');
    this.clearTimer('saveTimer');
    if (options.save !== false && this.current && this.deps.storage && this.dirtySinceSave && !this.paused) {
      await this.enqueue(() => this.saveNow()).catch(() => undefined);
    }
    this.disposed = true;
    this.pauseCtl.abort();
    this.endOpening();
    for (const w of this.resumeWaiters.splice(0)) w(false);
    await this.jobs.catch(() => undefined);
    await this.compaction?.catch(() => undefined);
    if (this.current) await this.discard(this.current);
    this.current = undefined;
    this.setState('disposed');
  }

  /**
   * After an engine restart every handle is gone: forget them and start over
   * (reopening the save). Queries asked meanwhile wait for the new stream.
   */
  async engineRestarted(): Promise<void> {
    this.current = undefined;
    this.firstBuild = undefined;
    this.beginOpening();
    try {
      await this.enqueue(() => this.openOrBuild());
    } catch (e) {
      this.fail(e);
      throw e;
    } finally {
      this.endOpening();
    }
  }

  // ================================================================= events

  notify(e: WorkspaceEvent): void {
    if (this.disposed) return;
    switch (e.type) {
      case 'changed': this.overlays.set(path.resolve(e.path), e.text); this.touch(e.path); break;
      case 'saved': case 'discarded': this.overlays.delete(path.resolve(e.path)); this.touch(e.path); break;
      case 'created': this.touch(e.path); break;
      case 'deleted': this.overlays.delete(path.resolve(e.path)); break;
      case 'renamed': {
        const text = this.overlays.get(path.resolve(e.from));
        this.overlays.delete(path.resolve(e.from));
        if (text !== undefined) this.overlays.set(path.resolve(e.to), text);
        this.touch(e.to);
        break;
      }
      case 'settings': break;
    }
    this.clearTimer('idleTimer');
    this.queue.push(e);
  }

  /** Marks a path as just edited: it goes last in the next fresh stream. */
  private touch(abs: string): void {
    const loc = this.discovery.locate(abs);
    if (!loc) return;
    const p = this.discovery.displayPath(loc.folder, loc.rel);
    this.recentEdits = this.recentEdits.filter((x) => x !== p);
    this.recentEdits.push(p);
    if (this.recentEdits.length > 64) this.recentEdits.shift();
  }

  private onBatch(batch: ChangeBatch): void {
    if (this.paused) { this.heldBatch = mergeBatch(this.heldBatch, batch); return; }
    void this.enqueue(() => this.applyBatch(batch)).catch((e) => this.fail(e));
  }

  /** Applies everything pending now and waits until the context is current (tests, CLI). */
  async flush(): Promise<void> {
    await this.startedPromise;
    for (;;) {
      const batch = this.queue.takeAll();
      if (batch && !this.paused) await this.enqueue(() => this.applyBatch(batch));
      else if (batch) this.heldBatch = mergeBatch(this.heldBatch, batch);
      await this.jobs;
      const c = this.compaction;
      if (c) await c;
      if (this.queue.pending === 0 && !this.compaction && this.jobCount === 0) return;
    }
  }

  // ================================================================ control

  pause(): void {
    if (this.paused || this.disposed) return;
    this.paused = true;
    this.pauseCtl.abort();
    this.setState('paused');
  }

  resume(): void {
    if (!this.paused || this.disposed) return;
    this.paused = false;
    this.pauseCtl = new AbortController();
    this.setState(this.current ? 'ready' : 'building');
    for (const w of this.resumeWaiters.splice(0)) w(true);
    const held = this.heldBatch;
    this.heldBatch = undefined;
    if (held) this.onBatch(held);
    if (this.compactAgain) { const r = this.compactAgain; this.compactAgain = undefined; this.startCompaction(r); }
  }

  /** A fresh stream from scratch, built beside the current one. */
  rebuild(): Promise<void> {
    return this.startCompaction('rebuild requested', false);
  }

  compactNow(): Promise<void> {
    return this.startCompaction('requested');
  }

  // ================================================================ queries

  /**
   * A fork of the current stream for a query or completion. Never waits for an
   * update or compaction; during a first build (also the one after an engine
   * restart) it waits at most one batch; while a stream is being opened it
   * waits for it. Throws ContextUnavailableError when there is none to wait for.
   */
  async forkForQuery(): Promise<QueryFork> {
    for (;;) {
      if (this.disposed) throw new ContextUnavailableError('disposed', 'the context was disposed');
      if (this.current) {
        return this.stateLock.run(async () => {
          const cur = this.current!;
          const session = await this.engine.fork(cur.session);
          return { session, nPast: tableEnd(cur.table), partial: false, drop: () => this.engine.dropSession(session) };
        });
      }
      if (this.firstBuild) {
        const fb = this.firstBuild;
        return new Promise<QueryFork>((resolve, reject) => fb.requests.push((f) => (f instanceof Error ? reject(f) : resolve(f))));
      }
      if (!this.opening) throw new ContextUnavailableError('failed', `no context: ${this.stats.error ?? 'it could not be opened'}`);
      await this.opening;
    }
  }

  // ================================================================= status

  onProgress(fn: (e: ProgressEvent) => void): () => void {
    this.progressListeners.add(fn);
    return () => this.progressListeners.delete(fn);
  }

  onStatus(fn: (s: ContextStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  status(): ContextStatus {
    const t = this.current?.table;
    const total = t ? tableEnd(t) : 0;
    const stale = t ? staleTokens(t) : 0;
    const skipped: Partial<Record<SkipReason, number>> = {};
    for (const s of this.skipped) skipped[s.reason] = (skipped[s.reason] ?? 0) + 1;
    return {
      state: this.state, compacting: this.compaction !== undefined,
      tokensInContext: total, budgetTokens: this.o.budgetTokens, staleTokens: stale,
      staleShare: total ? stale / total : 0, files: t ? liveFiles(t).size : 0, segments: t?.segs.length ?? 0,
      hotTailTokens: t ? hotTokens(t) : 0, filesLeftOut: t?.leftOut.size ?? 0, skipped,
      pendingChanges: this.queue.pending + (this.heldBatch?.paths.size ?? 0), ...this.stats,
    };
  }

  report(): ContextReport {
    const t = this.current?.table;
    const included = new Map<string, { path: string; tokens: number; segments: number; tier?: Tier }>();
    for (const s of t?.segs ?? []) {
      if (s.kind !== 'file' || s.stale) continue;
      const e = included.get(s.path) ?? { path: s.path, tokens: 0, segments: 0, tier: this.tiers.get(s.path) };
      e.tokens += s.tokens;
      e.segments++;
      included.set(s.path, e);
    }
    return { included: [...included.values()], skipped: [...this.skipped], leftOut: [...(t?.leftOut.keys() ?? [])] };
  }

  /** The segment table (read-only view), for tests and diagnostics. */
  table(): Readonly<Table> | undefined {
    return this.current?.table;
  }

  /** The session that holds the current stream (do not feed it: fork it). */
  sessionId(): SessionId | undefined {
    return this.current?.session;
  }

  recent(): readonly string[] {
    return this.recentEdits;
  }

  private emitProgress(e: ProgressEvent): void {
    for (const fn of this.progressListeners) fn(e);
  }

  private setState(s: ContextState): void {
    if (this.disposed && s !== 'disposed') return;
    this.state = s;
    const st = this.status();
    for (const fn of this.statusListeners) fn(st);
  }

  private fail(e: unknown): void {
    if (e instanceof Aborted) return;
    this.stats.error = (e as Error)?.message ?? String(e);
    this.deps.logger?.warn(`context: ${this.stats.error}`);
    this.setState('error');
  }

  // ================================================================== jobs

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    this.jobCount++;
    const run = this.jobs.then(async () => {
      try {
        if (this.disposed) throw new Aborted();
        return await fn();
      } finally {
        this.jobCount--;
      }
    });
    this.jobs = run.then(() => undefined, () => undefined);
    return run;
  }

  private clearTimer(which: 'idleTimer' | 'saveTimer'): void {
    const t = this[which];
    if (t !== undefined) this.clock.clearTimeout(t);
    this[which] = undefined;
  }

  private afterChange(): void {
    this.dirtySinceSave = true;
    this.scheduleSave(this.o.saveDebounceMs);
    const t = this.current?.table;
    if (!t) return;
    const total = tableEnd(t);
    if (total && staleTokens(t) / total > this.o.staleThreshold) void this.startCompaction('stale share above threshold');
    this.clearTimer('idleTimer');
    if (this.o.idleCompactMs > 0) {
      this.idleTimer = this.clock.setTimeout(() => {
        this.idleTimer = undefined;
        const cur = this.current?.table;
        if (cur && staleTokens(cur) > 0 && this.queue.pending === 0 && !this.paused) void this.startCompaction('idle');
      }, this.o.idleCompactMs);
    }
  }

  private scheduleSave(ms: number): void {
    if (!this.deps.storage) return;
    this.dirtySinceSave = true;
    this.clearTimer('saveTimer');
    this.saveTimer = this.clock.setTimeout(() => {
      this.saveTimer = undefined;
      if (this.paused || this.disposed) return;
      void this.enqueue(() => this.saveNow()).catch((e) => this.deps.logger?.warn(`context save failed: ${(e as Error).message}`));
    }, ms);
  }

  /** Saves now (the job chain keeps it apart from updates). */
  save(): Promise<void> {
    return this.enqueue(() => this.saveNow());
  }

  private async saveNow(): Promise<void> {
    const storage = this.deps.storage;
    if (!storage || !this.current) return;
    const t0 = this.clock.now();
    const { bytes } = await this.stateLock.run(() => {
      const cur = this.current!;
      return saveContext(storage, this.engine, cur.session, cur.table, tableEnd(cur.table), {
        fingerprint: this.info.fingerprint, optionsKey: this.optionsKey, recentEdits: this.recentEdits, now: this.clock.now(),
        budgetTokens: this.o.budgetTokens,
      }, this.blobCache);
    });
    this.dirtySinceSave = false;
    this.stats.lastSave = { bytes, ms: this.clock.now() - t0 };
  }

  // ======================================================== engine objects

  private async release(t: Table): Promise<void> {
    for (const c of t.ckpts.values()) {
      if (--c.refs === 0) await this.engine.dropSnapshot(c.snap).catch(() => undefined);
    }
    t.ckpts.clear();
  }

  private async discard(c: Current): Promise<void> {
    await this.release(c.table);
    await this.engine.dropSession(c.session).catch(() => undefined);
  }

  /** Publishes a new stream; the old one's session and checkpoints go (unless shared). */
  private async swap(next: Current): Promise<void> {
    const old = await this.stateLock.run(async () => {
      const prev = this.current;
      this.current = next;
      return prev;
    });
    if (old) await this.discard(old);
  }

  /** How many cold checkpoints a cold part of this length gets. */
  private coldCheckpoints(coldTokens: number, hotSegments: number): number {
    const byMemory = Math.floor(this.o.checkpointMemoryBytes / Math.max(1, this.info.stateBytes)) - hotSegments - 1;
    const bySpacing = Math.floor(coldTokens / this.o.minCheckpointSpacing);
    return Math.max(0, Math.min(this.o.maxColdCheckpoints, byMemory, bySpacing));
  }

  /**
   * Keeps the checkpoints the policy needs: every hot segment start and the
   * end, plus a few spread over the cold part (coldCheckpoints).
   */
  private async thin(t: Table): Promise<void> {
    const end = tableEnd(t);
    const coldEnd = t.segs[t.hotStart]?.start ?? end;
    const keep = new Set<number>([end]);
    for (let i = t.hotStart; i < t.segs.length; i++) keep.add(t.segs[i].start);
    const cold = [...t.ckpts.keys()].filter((p) => p < coldEnd && !keep.has(p)).sort((a, b) => a - b);
    const m = this.coldCheckpoints(coldEnd, t.segs.length - t.hotStart);
    if (cold.length <= m) cold.forEach((p) => keep.add(p));
    else {
      for (let j = 1; j <= m; j++) {
        const target = (coldEnd * j) / (m + 1);
        let best = cold[0];
        for (const p of cold) if (Math.abs(p - target) < Math.abs(best - target)) best = p;
        keep.add(best);
      }
    }
    for (const [pos, c] of [...t.ckpts]) {
      if (keep.has(pos)) continue;
      t.ckpts.delete(pos);
      if (--c.refs === 0) await this.engine.dropSnapshot(c.snap).catch(() => undefined);
    }
  }

  /** Moves the hot/cold line so the tail holds at most hotTailTokens (at least its last segment). */
  private trimHot(t: Table): void {
    const end = tableEnd(t);
    while (t.hotStart < t.segs.length - 1 && end - t.segs[t.hotStart].start > this.o.hotTailTokens) t.hotStart++;
    t.hotStart = Math.max(1, t.hotStart);
  }

  /** Resolves true on resume, false on dispose (immediately when not paused). */
  private resumed(): Promise<boolean> {
    if (this.disposed) return Promise.resolve(false);
    if (!this.paused) return Promise.resolve(true);
    return new Promise((r) => this.resumeWaiters.push(r));
  }
  private resumeWaiters: ((go: boolean) => void)[] = [];

  // ======================================================= fresh streams

  private async currentFiles(): Promise<IncludedFile[]> {
    const report = await this.discovery.scan();
    const files = new Map(report.included.map((f) => [f.abs, f] as const));
    const skipped = report.skipped;
    // Unsaved text wins over the disk.
    for (const [abs, text] of this.overlays) {
      const v = await this.discovery.checkPath(abs, text);
      if (v.kind === 'file') files.set(path.resolve(abs), v.file);
      else {
        files.delete(path.resolve(abs));
        if (v.kind === 'skipped') skipped.push(v.entry);
      }
    }
    this.skipped = skipped;
    return [...files.values()];
  }

  private async partsOf(file: { path: string; text: string }): Promise<FilePart[]> {
    return splitFile(file.path, file.text, this.outliner, this.splitOpts);
  }

  private fileSeg(header: 'file' | 'updated', file: string, p: FilePart, mtimeMs: number, fileHash?: string): { seg: Seg; text: string } {
    const text = fileSegmentText(header, file, p);
    return {
      text,
      seg: {
        kind: 'file', path: file, part: p.part, parts: p.parts, header, contentHash: p.hash, textHash: hashText(text),
        start: 0, tokens: 0, stale: false, mtimeMs, ...(fileHash ? { fileHash } : {}),
      },
    };
  }

  /**
   * Builds the fresh stream of the current files in a new session. With a
   * `reuse` stream, the longest common prefix is taken over from it (fork +
   * restore of the nearest checkpoint) instead of being fed again.
   */
  private async buildFresh(o: {
    kind: BuildStats['kind']; reason: string; reuse?: Current; serveForks?: boolean;
  }): Promise<Current | undefined> {
    const t0 = this.clock.now();
    const files = await this.currentFiles();
    const ordered = orderFiles(files, { ...this.orderOpts, now: this.clock.now(), recentEdits: this.recentEdits });
    this.tiers = new Map(ordered.map((x) => [x.file.path, x.tier] as const));

    // Segments, in order, with their text.
    const drafts: { seg: Seg; text: string; tier: Tier | 'preamble'; file?: string; hash?: string }[] = [];
    const pre = preambleText(this.folderNames());
    drafts.push({
      text: pre, tier: 'preamble',
      seg: { kind: 'preamble', path: '', part: 0, parts: 0, header: 'preamble', contentHash: '', textHash: hashText(pre), start: 0, tokens: 0, stale: false, mtimeMs: 0 },
    });
    for (const { file, tier } of ordered) {
      for (const p of await this.partsOf(file)) {
        drafts.push({ ...this.fileSeg('file', file.path, p, file.mtimeMs, file.hash), tier, file: file.path, hash: file.hash });
      }
    }

    // Token counts: known ones from the old stream, the rest from the tokenizer.
    const known = new Map<string, Seg>();
    for (const s of o.reuse?.table.segs ?? []) known.set(s.textHash, s);
    const tok = new ProgressTracker(this.clock, 'tokenize', drafts.length, 0, (e) => this.emitProgress(e));
    let n = 0;
    for (const d of drafts) {
      if (this.pauseCtl.signal.aborted && !(await this.resumed())) return undefined;
      const k = known.get(d.seg.textHash);
      if (k) d.seg.tokens = k.tokens;
      else {
        d.seg.ids = await this.engine.tokenize(d.text);
        d.seg.tokens = d.seg.ids.length;
      }
      tok.update(++n, 0);
    }

    // The budget: leave out the coldest files until the stream fits.
    const limit = Math.floor(this.o.budgetTokens * (1 - this.o.reserveShare));
    const leftOut = new Map<string, string>();
    let total = drafts.reduce((s, d) => s + d.seg.tokens, 0);
    if (total > limit) {
      const perFile = new Map<string, { tokens: number; tier: Tier; mtime: number; hash: string; rank: number }>();
      drafts.forEach((d, i) => {
        if (!d.file) return;
        const e = perFile.get(d.file) ?? { tokens: 0, tier: d.tier as Tier, mtime: d.seg.mtimeMs, hash: d.hash!, rank: i };
        e.tokens += d.seg.tokens;
        perFile.set(d.file, e);
      });
      const tierRank: Record<Tier, number> = { test: 0, code: 0, overview: 1, hot: 2 };
      const victims = [...perFile.entries()].sort(([, a], [, b]) =>
        tierRank[a.tier] - tierRank[b.tier] || a.mtime - b.mtime || a.rank - b.rank);
      const dropped: [string, { tokens: number; hash: string }][] = [];
      for (const [file, e] of victims) {
        if (total <= limit) break;
        leftOut.set(file, e.hash);
        dropped.push([file, e]);
        total -= e.tokens;
      }
      // The last file out may have been a big one: take back the warmest of
      // the dropped files that still fit, so the stream fills the budget.
      for (const [file, e] of dropped.reverse()) {
        if (total + e.tokens > limit) continue;
        leftOut.delete(file);
        total += e.tokens;
      }
    }
    const layout = drafts.filter((d) => !d.file || !leftOut.has(d.file));
    let pos = 0;
    for (const d of layout) { d.seg.start = pos; pos += d.seg.tokens; }
    const segs = layout.map((d) => d.seg);
    const table: Table = { segs, hotStart: segs.length, ckpts: new Map(), leftOut };
    const firstHot = layout.findIndex((d) => d.tier === 'hot');
    table.hotStart = firstHot < 0 ? segs.length : firstHot;
    this.trimHot(table);

    // Reuse: the longest common prefix with the latest stream, up to a
    // checkpoint, and never past the hot tail (which is always fed fresh, so
    // each of its segments gets a checkpoint).
    let startIndex = 0;
    let session: SessionId | undefined;
    if (o.reuse) {
      session = await this.stateLock.run(async () => {
        const r = this.current;
        if (!r) return undefined;
        let k = 0;
        while (k < segs.length && k < r.table.segs.length && segs[k].textHash === r.table.segs[k].textHash) k++;
        const rEnd = tableEnd(r.table);
        let from = -1;
        let ck: Ckpt | undefined;
        for (let m = Math.min(k, table.hotStart); m > 0; m--) {
          const at = m < segs.length ? segs[m].start : pos;
          if (at === rEnd && m === r.table.segs.length) { from = m; break; }
          ck = r.table.ckpts.get(at);
          if (ck) { from = m; break; }
        }
        if (from <= 0) return undefined;
        const s = await this.engine.fork(r.session);
        const at = from < segs.length ? segs[from].start : pos;
        if (ck) await this.engine.restore(s, ck.snap);
        for (const c of r.table.ckpts.values()) {
          if (c.pos <= at) { table.ckpts.set(c.pos, c); c.refs++; }
        }
        startIndex = from;
        return s;
      });
    }
    session ??= await this.engine.openSession();
    for (let i = startIndex; i < segs.length; i++) {
      if (!segs[i].ids) {
        segs[i].ids = await this.engine.tokenize(layout[i].text);
        if (segs[i].ids!.length !== segs[i].tokens) throw new Error('tokenizer is not deterministic');
      }
    }

    // Checkpoints: every hot boundary and the end, and a spread over the cold part.
    const wanted = new Set<number>([pos]);
    for (let i = table.hotStart; i < segs.length; i++) wanted.add(segs[i].start);
    const coldEnd = segs[table.hotStart]?.start ?? pos;
    const m = this.coldCheckpoints(coldEnd, segs.length - table.hotStart);
    let nextTarget = 1;
    for (let i = 1; i < table.hotStart && nextTarget <= m; i++) {
      if (segs[i].start >= (coldEnd * nextTarget) / (m + 1)) {
        wanted.add(segs[i].start);
        while (nextTarget <= m && segs[i].start >= (coldEnd * nextTarget) / (m + 1)) nextTarget++;
      }
    }

    const phase: Phase = o.kind === 'build' ? 'build' : 'compact';
    const feedTotal = pos - (segs[startIndex]?.start ?? pos);
    const fileCount = new Set(segs.slice(startIndex).filter((s) => s.kind === 'file').map((s) => s.path)).size;
    const tracker = new ProgressTracker(this.clock, phase, fileCount, feedTotal, (e) => this.emitProgress(e));
    const feeder = new Feeder(this.engine, session, segs, startIndex, wanted, this.o.feedBatchTokens);
    if (o.serveForks) {
      this.firstBuild = { feeder, requests: [] };
      this.endOpening(); // queries join the build's forks now
    }
    let fedTokens = 0;
    let filesDone = 0;
    const between = o.serveForks ? () => this.serveFirstBuildForks(feeder) : undefined;
    const onFed = (tokens: number, segsDone: number) => {
      fedTokens += tokens;
      filesDone += segsDone;
      tracker.update(Math.min(filesDone, fileCount), fedTokens);
    };
    try {
      // Pause stops the feed at a chunk boundary; resume continues where it stopped.
      while (!(await feeder.run(this.pauseCtl.signal, onFed, between))) {
        if (!(await this.resumed())) {
          if (o.serveForks) this.rejectFirstBuildForks(new ContextUnavailableError('disposed', 'the context was disposed'));
          await this.failBuild(feeder, session, table);
          return undefined;
        }
      }
    } catch (e) {
      if (o.serveForks) this.rejectFirstBuildForks(e as Error);
      await this.failBuild(feeder, session, table);
      throw e;
    }
    tracker.finish();
    for (const [p, snap] of feeder.newCkpts) table.ckpts.set(p, { pos: p, snap, refs: 1 });
    dropColdIds(table);
    await this.thin(table);
    if (o.serveForks) this.firstBuild = undefined;
    this.stats.lastBuild = {
      kind: o.kind, reason: o.reason, reusedTokens: segs[startIndex]?.start ?? pos, fedTokens, ms: this.clock.now() - t0,
    };
    return { session, table };
  }

  private async failBuild(feeder: Feeder, session: SessionId, table: Table): Promise<void> {
    if (this.firstBuild?.feeder === feeder) this.firstBuild = undefined;
    await feeder.dropNew();
    await this.release(table);
    await this.engine.dropSession(session).catch(() => undefined);
  }

  private async serveFirstBuildForks(feeder: Feeder): Promise<void> {
    const fb = this.firstBuild;
    if (!fb || fb.feeder !== feeder || fb.requests.length === 0) return;
    const requests = fb.requests.splice(0);
    const nPast = await this.engine.nPast(feeder.session);
    for (const r of requests) {
      try {
        const s = await this.engine.fork(feeder.session);
        r({ session: s, nPast, partial: true, drop: () => this.engine.dropSession(s) });
      } catch (e) {
        r(e as Error);
      }
    }
  }

  private rejectFirstBuildForks(e: Error): void {
    const fb = this.firstBuild;
    if (!fb) return;
    for (const r of fb.requests.splice(0)) r(e);
  }

  // ============================================================ compaction

  private startCompaction(reason: string, reuse = true): Promise<void> {
    if (this.disposed) return Promise.resolve();
    if (this.paused) { this.compactAgain = reason; return Promise.resolve(); }
    if (this.compaction) {
      this.compactAgain = reason;
      return this.compaction;
    }
    this.changesDuringCompaction = new Map();
    const run = (async () => {
      await this.startedPromise;
      const base = this.current;
      if (!base) return;
      const built = await this.buildFresh({ kind: reuse ? 'compact' : 'rebuild', reason, reuse: reuse ? base : undefined });
      if (!built) { this.changesDuringCompaction = undefined; return; }
      let swapped = false;
      await this.enqueue(async () => {
        const changes = this.changesDuringCompaction ?? new Map();
        this.changesDuringCompaction = undefined;
        let next: Current = built;
        if (changes.size) {
          const plan = planUpdate(built.table.segs, built.table.hotStart, changes, this.clock.now(), this.policy);
          if (!plan.noop) {
            const res = await this.executePlan(built, plan, false, changes.size);
            if (!res) return;
            next = res;
          }
        }
        await this.swap(next);
        swapped = true;
        this.afterCompaction();
      }).finally(async () => {
        // Disposed (or failed) before the swap: the new stream has no owner.
        if (!swapped) await this.discard(built);
      });
    })().catch((e) => this.fail(e)).finally(() => {
      this.compaction = undefined;
      const again = this.compactAgain;
      this.compactAgain = undefined;
      if (again && !this.paused && !this.disposed) {
        const t = this.current?.table;
        if (t && (staleTokens(t) > 0 || again === 'rescan' || again.startsWith('rebuild'))) void this.startCompaction(again);
      }
    });
    this.compaction = run;
    return run;
  }

  private afterCompaction(): void {
    this.dirtySinceSave = true;
    this.scheduleSave(0);
  }

  // =============================================================== updates

  /** What a path (file or folder) is now, as changes to the table. */
  private async collectChanges(abs: string, out: Map<string, FileChange | null>, table: Table): Promise<void> {
    const loc = this.discovery.locate(abs);
    if (!loc) return;
    const display = this.discovery.displayPath(loc.folder, loc.rel);
    const v = await this.discovery.checkPath(abs, this.overlays.get(path.resolve(abs)));
    const known = new Set<string>([...liveFiles(table), ...table.leftOut.keys()]);
    const under = (p: string) => display === '' || p.startsWith(display + '/');
    this.skipped = this.skipped.filter((s) => s.path !== display && s.path !== display + '/');
    switch (v.kind) {
      case 'file':
        out.set(display, { parts: await this.partsOf(v.file), mtimeMs: v.file.mtimeMs, hash: v.file.hash });
        this.rememberHash(display, v.file.hash, table);
        return;
      case 'skipped':
        this.skipped.push(v.entry);
        out.set(display, null);
        for (const p of known) if (under(p)) out.set(p, null);
        return;
      case 'missing':
      case 'outside':
        out.set(display, null);
        for (const p of known) if (under(p)) out.set(p, null);
        return;
      case 'dir': {
        const report = await this.discovery.scanFolder(abs);
        const found = new Set<string>();
        for (const f of report.included) {
          found.add(f.path);
          const text = this.overlays.get(f.abs) ?? f.text;
          out.set(f.path, { parts: await this.partsOf({ path: f.path, text }), mtimeMs: f.mtimeMs, hash: hashText(text) });
          this.rememberHash(f.path, hashText(text), table);
        }
        this.skipped = this.skipped.filter((s) => !under(s.path)).concat(report.skipped);
        for (const p of known) if (under(p) && !found.has(p)) out.set(p, null);
      }
    }
  }

  /** A left-out file that changed is hot now: it enters the stream. */
  private rememberHash(display: string, hash: string, table: Table): void {
    const h = table.leftOut.get(display);
    if (h === undefined) return;
    if (h === hash) this.unchangedLeftOut.add(display);
  }
  private unchangedLeftOut = new Set<string>();

  private async applyBatch(batch: ChangeBatch): Promise<void> {
    if (this.paused) { this.heldBatch = mergeBatch(this.heldBatch, batch); return; }
    if (batch.rescan) {
      // New rules may add or drop many files: a fresh stream (reusing the
      // common prefix) is the update; it reads every file, so it covers the paths too.
      this.discovery.reset(batch.folders);
      void this.startCompaction('rescan');
      return;
    }
    const cur = this.current;
    if (!cur) { this.queue.requeue(batch); return; }
    const t0 = this.clock.now();
    const changes = new Map<string, FileChange | null>();
    this.unchangedLeftOut.clear();
    for (const abs of batch.paths) await this.collectChanges(abs, changes, cur.table);
    for (const p of this.unchangedLeftOut) changes.delete(p);
    for (const [p, ch] of changes) if (ch === null && cur.table.leftOut.has(p)) { /* gone while left out */ }
    if (changes.size === 0) return;
    // The most recently edited goes last.
    const rank = new Map(this.recentEdits.map((p, i) => [p, i] as const));
    const ordered = new Map([...changes].sort(([a], [b]) => (rank.get(a) ?? -1) - (rank.get(b) ?? -1)));
    if (this.changesDuringCompaction) for (const [p, ch] of ordered) this.changesDuringCompaction.set(p, ch);
    const plan = planUpdate(cur.table.segs, cur.table.hotStart, ordered, this.clock.now(), this.policy);
    if (plan.noop) {
      this.dropLeftOutGone(cur.table, ordered);
      return;
    }
    this.setState('updating');
    const next = await this.executePlan(cur, plan, true, ordered.size);
    if (!next) {
      // The plan did not fit or failed: the compaction it started takes the changes.
      this.setState(this.paused ? 'paused' : 'ready');
      return;
    }
    this.dropLeftOutGone(next.table, ordered);
    await this.swap(next);
    if (this.stats.lastUpdate) this.stats.lastUpdate.ms = this.clock.now() - t0;
    this.setState(this.paused ? 'paused' : 'ready');
    this.afterChange();
  }

  private dropLeftOutGone(t: Table, changes: ReadonlyMap<string, FileChange | null>): void {
    for (const [p, ch] of changes) if (t.leftOut.has(p) && (ch === null || !this.unchangedLeftOut.has(p))) t.leftOut.delete(p);
  }

  /**
   * Carries out an update plan on `base` (forked first when it is the current
   * stream, so queries keep using the old one until the swap). Returns the new
   * stream, or undefined when paused or when the plan does not fit (then a
   * compaction is started instead).
   */
  private async executePlan(base: Current, plan: UpdatePlan, forkBase: boolean, files: number): Promise<Current | undefined> {
    const segs: Seg[] = [...plan.prefix];
    let pos = plan.prefix.length ? plan.prefix[plan.prefix.length - 1].start + plan.prefix[plan.prefix.length - 1].tokens : 0;
    let refed = 0;
    let fresh = 0;
    for (const item of plan.tail) {
      let seg: Seg;
      if (item.from === 'kept') {
        if (!item.seg.ids) { void this.startCompaction('hot segment without ids'); return undefined; }
        seg = { ...item.seg, start: pos };
        refed += seg.tokens;
      } else {
        const made = item.kind === 'deleted'
          ? { text: deletedSegmentText(item.path), seg: {
            kind: 'deleted' as const, path: item.path, part: 0, parts: 0, header: 'deleted' as const, contentHash: '',
            textHash: hashText(deletedSegmentText(item.path)), start: 0, tokens: 0, stale: false, mtimeMs: item.mtimeMs } }
          : this.fileSeg(item.header, item.path, item.part, item.mtimeMs, item.fileHash);
        const ids = await this.engine.tokenize(made.text);
        seg = { ...made.seg, start: pos, tokens: ids.length, ids };
        fresh += ids.length;
      }
      segs.push(seg);
      pos += seg.tokens;
    }
    if (pos > this.o.budgetTokens || pos > this.info.contextLength) {
      void this.startCompaction('over budget');
      return undefined;
    }
    const rewindPos = plan.rewindIndex < base.table.segs.length ? base.table.segs[plan.rewindIndex].start : tableEnd(base.table);
    const ck = rewindPos === tableEnd(base.table) ? undefined : base.table.ckpts.get(rewindPos);
    if (rewindPos !== tableEnd(base.table) && !ck) {
      void this.startCompaction('no checkpoint at the rewind point');
      return undefined;
    }
    const session = forkBase
      ? await this.stateLock.run(() => this.engine.fork(base.session))
      : base.session;
    const table: Table = { segs, hotStart: base.table.hotStart, ckpts: new Map(), leftOut: new Map(base.table.leftOut) };
    for (const c of base.table.ckpts.values()) {
      if (c.pos <= rewindPos) { table.ckpts.set(c.pos, c); c.refs++; }
    }
    const wanted = new Set<number>([pos]);
    for (let i = plan.prefix.length; i < segs.length; i++) wanted.add(segs[i].start);
    const feeder = new Feeder(this.engine, session, segs, plan.prefix.length, wanted, this.o.feedBatchTokens);
    const tracker = new ProgressTracker(this.clock, 'update', files, refed + fresh, (e) => this.emitProgress(e));
    let fed = 0;
    let ok = true;
    try {
      if (ck) await this.engine.restore(session, ck.snap);
      while (!(await feeder.run(this.pauseCtl.signal, (n) => { fed += n; tracker.update(0, fed); }))) {
        if (!(await this.resumed())) { ok = false; break; }
      }
    } catch (e) {
      ok = false;
      this.deps.logger?.warn(`context update failed: ${(e as Error).message}`);
    }
    if (!ok) {
      await feeder.dropNew();
      await this.release(table);
      if (forkBase) await this.engine.dropSession(session).catch(() => undefined);
      // The current stream is untouched; a fresh build takes the changes.
      if (!this.disposed) void this.startCompaction('update failed');
      return undefined;
    }
    tracker.finish();
    for (const [p, snap] of feeder.newCkpts) table.ckpts.set(p, { pos: p, snap, refs: 1 });
    if (!forkBase) {
      // We own base: its checkpoints were borrowed above, give base's own refs back.
      await this.release(base.table);
    }
    this.trimHot(table);
    dropColdIds(table);
    await this.thin(table);
    this.stats.lastUpdate = { files, refedTokens: refed, newTokens: fresh, rewound: plan.removed, staled: plan.staled, ms: 0 };
    return { session, table };
  }

  // ============================================================ reopening

  /**
   * Why a save made under `savedBudget` must be fitted to the current budget:
   * it holds more than this budget allows, or the budget grew and files the
   * old one left out may fit now. Undefined when it can be used as it is.
   */
  private refitReason(t: Table, savedBudget: number | undefined): string | undefined {
    const budget = this.o.budgetTokens;
    const limit = Math.floor(budget * (1 - this.o.reserveShare));
    const end = tableEnd(t);
    if (savedBudget === undefined) return end > budget ? `saved with ${end} tokens, over the budget of ${budget}` : undefined;
    if (savedBudget === budget) return undefined;
    const was = `saved under a budget of ${savedBudget} tokens, now ${budget}`;
    if (savedBudget > budget && end > limit) return was;
    if (savedBudget < budget && t.leftOut.size > 0) return was;
    return undefined;
  }

  /** A fresh stream for the current budget and files, reusing what the reopened one shares with it. */
  private async refitAfterOpen(reason: string): Promise<number | undefined> {
    this.deps.logger?.info(`context: ${reason}; fitting it again`);
    const built = await this.buildFresh({ kind: 'compact', reason, reuse: this.current });
    if (!built) return undefined;
    await this.swap(built);
    this.afterChange();
    return this.stats.lastBuild?.fedTokens ?? 0;
  }

  /** After loading a save: re-judge every file; feed only what changed while closed. */
  private async reconcileAfterOpen(): Promise<number> {
    const cur = this.current!;
    const files = await this.currentFiles();
    const now = new Map(files.map((f) => [f.path, f] as const));
    const changes = new Map<string, FileChange | null>();
    const live = new Map<string, Seg[]>();
    for (const s of cur.table.segs) {
      if (s.kind !== 'file' || s.stale) continue;
      if (!live.has(s.path)) live.set(s.path, []);
      live.get(s.path)!.push(s);
    }
    for (const [p] of live) if (!now.has(p)) changes.set(p, null);
    for (const f of files) {
      const segs = live.get(f.path);
      if (!segs) {
        if (cur.table.leftOut.get(f.path) === f.hash) continue;
        changes.set(f.path, { parts: await this.partsOf(f), mtimeMs: f.mtimeMs, hash: f.hash });
        continue;
      }
      // Whole files compare by hash without splitting; split ones too when no part was updated alone.
      if (segs.length === 1 && segs[0].part === 0 && segs[0].contentHash === f.hash) continue;
      if (segs.every((s) => s.fileHash === f.hash) && segs.length === segs[0].parts) continue;
      const parts = await this.partsOf(f);
      const same = parts.length === segs.length && parts.every((p) => segs.some((s) => s.part === p.part && s.parts === p.parts && s.contentHash === p.hash));
      if (!same) changes.set(f.path, { parts, mtimeMs: f.mtimeMs, hash: f.hash });
    }
    for (const p of [...cur.table.leftOut.keys()]) if (!now.has(p)) cur.table.leftOut.delete(p);
    if (changes.size === 0) return 0;
    const plan = planUpdate(cur.table.segs, cur.table.hotStart, changes, this.clock.now(), this.policy);
    if (plan.noop) return 0;
    const next = await this.executePlan(cur, plan, true, changes.size);
    if (!next) return 0;
    for (const p of changes.keys()) next.table.leftOut.delete(p);
    await this.swap(next);
    this.afterChange();
    return (this.stats.lastUpdate?.refedTokens ?? 0) + (this.stats.lastUpdate?.newTokens ?? 0);
  }
}

/** Cold segments are not re-fed by updates: their ids are not kept. */
function dropColdIds(t: Table): void {
  for (let i = 0; i < t.hotStart; i++) if (t.segs[i].ids) t.segs[i] = { ...t.segs[i], ids: undefined };
}

function mergeBatch(a: ChangeBatch | undefined, b: ChangeBatch): ChangeBatch {
  if (!a) return { paths: new Set(b.paths), rescan: b.rescan, folders: b.folders };
  for (const p of b.paths) a.paths.add(p);
  a.rescan ||= b.rescan;
  a.folders = b.folders ?? a.folders;
  return a;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
