// The progress line shown on stderr while the model reads: a bar, tokens,
// rate and time left. Formatting is pure; ProgressLine draws it.

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  unit: string;
  elapsedMs: number;
  /** Items per second so far (derived from done / elapsed when absent). */
  rate?: number;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}

export function formatProgress(p: ProgressState, barWidth = 24): string {
  const fraction = p.total > 0 ? Math.min(1, Math.max(0, p.done / p.total)) : 0;
  const filled = Math.round(fraction * barWidth);
  const bar = '█'.repeat(filled) + '░'.repeat(barWidth - filled);
  const rate = p.rate ?? (p.elapsedMs > 0 ? (p.done * 1000) / p.elapsedMs : 0);
  const parts = [`${p.label} ▕${bar}▏ ${formatCount(p.done)}/${formatCount(p.total)} ${p.unit}`];
  if (rate > 0) {
    parts.push(`${formatCount(rate)} ${p.unit === 'tokens' ? 'tok' : p.unit}/s`);
    parts.push(p.done >= p.total ? `${formatDuration(p.elapsedMs)} total` : `${formatDuration(((p.total - p.done) / rate) * 1000)} left`);
  }
  return parts.join(' · ');
}

/** Redraws one line on a terminal; elsewhere stays silent until done(). */
export class ProgressLine {
  private last = '';
  private lastDraw = 0;

  constructor(private readonly out: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): boolean }) {}

  update(p: ProgressState): void {
    if (!this.out.isTTY) return;
    const now = Date.now();
    if (now - this.lastDraw < 80 && p.done < p.total) return;
    this.lastDraw = now;
    const columns = (this.out as NodeJS.WriteStream).columns ?? 100;
    const line = formatProgress(p).slice(0, Math.max(20, columns - 1));
    this.out.write(`\r${line}${' '.repeat(Math.max(0, this.last.length - line.length))}`);
    this.last = line;
  }

  /** Leaves a final summary line (on terminals and in logs alike). */
  done(p: ProgressState): void {
    const line = formatProgress(p);
    if (this.out.isTTY) this.out.write(`\r${line}${' '.repeat(Math.max(0, this.last.length - line.length))}\n`);
    else this.out.write(`${line}\n`);
    this.last = '';
  }

  /** Clears the line (e.g. before an error message). */
  clear(): void {
    if (this.out.isTTY && this.last.length > 0) this.out.write(`\r${' '.repeat(this.last.length)}\r`);
    this.last = '';
  }
}
