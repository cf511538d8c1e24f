// Progress of long phases (build, compaction, update): files, tokens, tok/s and
// time left, throttled so a listener is not flooded.
import type { ClockPort } from './ports';

export type Phase = 'scan' | 'tokenize' | 'build' | 'update' | 'compact' | 'restore';

export interface ProgressEvent {
  phase: Phase;
  filesDone: number;
  filesTotal: number;
  tokensDone: number;
  tokensTotal: number;
  /** Over the phase so far; 0 until something was fed. */
  tokensPerSecond: number;
  /** Undefined until a rate is known. */
  secondsLeft: number | undefined;
  done: boolean;
}

export class ProgressTracker {
  private startedAt: number;
  private lastEmit = -Infinity;
  filesDone = 0;
  tokensDone = 0;

  constructor(
    private readonly clock: ClockPort,
    readonly phase: Phase,
    readonly filesTotal: number,
    readonly tokensTotal: number,
    private readonly emit: (e: ProgressEvent) => void,
    private readonly minIntervalMs = 100,
  ) {
    this.startedAt = clock.now();
  }

  event(done = false): ProgressEvent {
    const elapsed = (this.clock.now() - this.startedAt) / 1000;
    const rate = elapsed > 0 ? this.tokensDone / elapsed : 0;
    const left = Math.max(0, this.tokensTotal - this.tokensDone);
    return {
      phase: this.phase, filesDone: this.filesDone, filesTotal: this.filesTotal,
      tokensDone: this.tokensDone, tokensTotal: this.tokensTotal,
      tokensPerSecond: rate, secondsLeft: done ? 0 : rate > 0 ? left / rate : undefined, done,
    };
  }

  update(filesDone: number, tokensDone: number): void {
    this.filesDone = filesDone;
    this.tokensDone = tokensDone;
    const now = this.clock.now();
    if (now - this.lastEmit >= this.minIntervalMs) {
      this.lastEmit = now;
      this.emit(this.event());
    }
  }

  finish(): void {
    this.emit(this.event(true));
  }
}
