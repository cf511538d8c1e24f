// Turns editor events into batches of paths to re-check. Unsaved text waits for
// typing to pause (debounce); saves, creates, deletes and renames wait a short
// window so that a burst (branch switch, formatter over many files) becomes
// one update; nothing waits longer than maxWaitMs once something is pending.
import * as path from 'node:path';
import type { ClockPort, TimerId, WorkspaceEvent, WorkspaceFolder } from './ports';

export interface ChangeBatch {
  /** Absolute paths to re-check (files or folders). */
  paths: Set<string>;
  /** Ignore files or settings changed: everything must be re-judged. */
  rescan: boolean;
  folders?: WorkspaceFolder[];
}

export interface QueueTiming {
  unsavedDebounceMs: number;
  batchMs: number;
  maxWaitMs: number;
}

const RULE_FILES = new Set(['.gitignore', '.rwkvxignore']);

export function isRuleFile(abs: string): boolean {
  return RULE_FILES.has(path.basename(abs)) || /[\\/]\.git[\\/]info[\\/]exclude$/.test(abs);
}

export class ChangeQueue {
  private due = new Map<string, number>();
  private rescan = false;
  private folders: WorkspaceFolder[] | undefined;
  private firstAt: number | undefined;
  private lastAt = -Infinity;
  private timer: TimerId | undefined;
  /** Events received (for the status and tests). */
  received = 0;

  constructor(
    private readonly clock: ClockPort,
    private readonly timing: QueueTiming,
    private readonly onBatch: (batch: ChangeBatch) => void,
  ) {}

  get pending(): number { return this.due.size + (this.rescan ? 1 : 0); }

  push(e: WorkspaceEvent): void {
    this.received++;
    const now = this.clock.now();
    const mark = (p: string, delay: number) => {
      if (isRuleFile(p)) this.rescan = true;
      // A later event may only push the path's deadline out, as typing does.
      this.due.set(p, Math.max(this.due.get(p) ?? 0, now + delay));
    };
    switch (e.type) {
      case 'changed': mark(e.path, this.timing.unsavedDebounceMs); break;
      case 'renamed': mark(e.from, this.timing.batchMs); mark(e.to, this.timing.batchMs); break;
      case 'settings': this.rescan = true; this.folders = e.folders; break;
      default: mark(e.path, this.timing.batchMs);
    }
    this.firstAt ??= now;
    this.lastAt = now;
    this.arm();
  }

  private arm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === 0) { this.firstAt = undefined; return; }
    const now = this.clock.now();
    let next = this.rescan ? now : Infinity;
    for (const d of this.due.values()) next = Math.min(next, d);
    // A burst ends when no event came for batchMs; nothing waits past maxWait.
    next = Math.max(next, this.lastAt + this.timing.batchMs);
    next = Math.min(next, (this.firstAt ?? now) + this.timing.maxWaitMs);
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, next - now));
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    const overdue = now >= (this.firstAt ?? now) + this.timing.maxWaitMs;
    // Everything that is due goes now, and anything due within the burst window
    // rides along rather than making a second update right after.
    const paths = new Set<string>();
    for (const [p, d] of this.due) if (overdue || d <= now + this.timing.batchMs) paths.add(p);
    for (const p of paths) this.due.delete(p);
    const batch: ChangeBatch = { paths, rescan: this.rescan, folders: this.folders };
    this.rescan = false;
    this.folders = undefined;
    this.firstAt = this.due.size ? now : undefined;
    this.arm();
    if (batch.paths.size || batch.rescan) this.onBatch(batch);
  }

  /** Everything pending, now, without waiting (flush, shutdown). */
  takeAll(): ChangeBatch | undefined {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === 0) return undefined;
    const batch: ChangeBatch = { paths: new Set(this.due.keys()), rescan: this.rescan, folders: this.folders };
    this.due.clear();
    this.rescan = false;
    this.folders = undefined;
    this.firstAt = undefined;
    return batch;
  }

  /** Puts paths back (an update that was paused or failed). */
  requeue(batch: ChangeBatch): void {
    const now = this.clock.now();
    for (const p of batch.paths) if (!this.due.has(p)) this.due.set(p, now + this.timing.batchMs);
    if (batch.rescan) { this.rescan = true; this.folders ??= batch.folders; }
    this.firstAt ??= now;
    this.arm();
  }

  /** Stops the timer; pending paths stay until takeAll or the next push. */
  hold(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  resume(): void { this.arm(); }

  dispose(): void { this.hold(); }
}
