// Feeds segments into a session in batches, taking checkpoints at the wanted
// segment boundaries. Resumable: after an abort it knows exactly how far the
// engine got (the engine keeps completed chunks) and continues from there.
import type { EnginePort, SessionId, SnapshotId } from './ports';
import type { Seg } from './table';

export class Feeder {
  /** Next segment to feed, and how many of its tokens the engine already has. */
  next: number;
  offset = 0;
  readonly newCkpts = new Map<number, SnapshotId>();
  fedTokens = 0;

  constructor(
    private readonly engine: EnginePort,
    readonly session: SessionId,
    readonly segs: Seg[],
    start: number,
    /** Token positions (segment starts or the end) that get a checkpoint. */
    private readonly wanted: ReadonlySet<number>,
    private readonly batchTokens: number,
  ) {
    this.next = start;
  }

  get done(): boolean { return this.next >= this.segs.length; }

  private boundary(k: number): number {
    if (k < this.segs.length) return this.segs[k].start;
    const last = this.segs[this.segs.length - 1];
    return last ? last.start + last.tokens : 0;
  }

  /**
   * Runs until everything is fed (true) or the signal aborts (false).
   * `between` runs before every batch, when the session is idle (forks for
   * queries during a first build happen there).
   */
  async run(
    signal: AbortSignal | undefined,
    onFed: (tokens: number, segsDone: number) => void,
    between?: () => Promise<void>,
  ): Promise<boolean> {
    while (!this.done) {
      if (signal?.aborted) return false;
      if (between) await between();
      // One batch: whole segments up to the batch size or the next wanted checkpoint.
      let j = this.next;
      let n = 0;
      const parts: Int32Array[] = [];
      do {
        const ids = this.segs[j].ids;
        if (!ids) throw new Error(`segment ${this.segs[j].path} has no token ids to feed`);
        const piece = j === this.next ? ids.subarray(this.offset) : ids;
        parts.push(piece);
        n += piece.length;
        j++;
      } while (j < this.segs.length && n < this.batchTokens && !this.wanted.has(this.boundary(j)));
      const batch = parts.length === 1 ? parts[0] : concat(parts, n);
      const before = this.boundary(this.next) + this.offset;
      let reported = 0;
      // A signal per call: listeners an adapter adds to it go away with the call.
      const call = new AbortController();
      const forward = () => call.abort();
      signal?.addEventListener('abort', forward);
      if (signal?.aborted) call.abort();
      let res;
      try {
        res = await this.engine.feed(this.session, batch, {
          signal: call.signal,
          onProgress: (done) => { onFed(done - reported, 0); reported = done; },
        });
      } finally {
        signal?.removeEventListener('abort', forward);
      }
      const fed = res.nPast - before;
      if (fed !== reported) onFed(fed - reported, 0);
      this.fedTokens += fed;
      if (res.aborted || fed < batch.length) {
        this.advance(fed);
        if (!res.aborted) throw new Error(`engine took ${fed} of ${batch.length} tokens`);
        return false;
      }
      const segsDone = j - this.next;
      this.next = j;
      this.offset = 0;
      onFed(0, segsDone);
      const end = this.boundary(j);
      if (this.wanted.has(end) && !this.newCkpts.has(end)) {
        this.newCkpts.set(end, await this.engine.snapshot(this.session));
      }
    }
    if (between) await between();
    return true;
  }

  private advance(tokens: number): void {
    let left = tokens;
    while (left > 0 && this.next < this.segs.length) {
      const rest = this.segs[this.next].tokens - this.offset;
      if (left < rest) { this.offset += left; return; }
      left -= rest;
      this.next++;
      this.offset = 0;
    }
  }

  /** Snapshots taken by this feeder that nobody adopted (after an abandoned build). */
  async dropNew(keep: ReadonlySet<SnapshotId> = new Set()): Promise<void> {
    for (const s of this.newCkpts.values()) if (!keep.has(s)) await this.engine.dropSnapshot(s).catch(() => undefined);
    this.newCkpts.clear();
  }
}

function concat(parts: Int32Array[], n: number): Int32Array {
  const out = new Int32Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
