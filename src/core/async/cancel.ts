// Cancellation in the shape VS Code and vscode-jsonrpc use, so tokens pass
// between them and plain-Node code without adapters.

export interface Disposable {
  dispose(): void;
}

export interface CancelToken {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: (e: unknown) => unknown): Disposable;
}

export const NEVER: CancelToken = {
  isCancellationRequested: false,
  onCancellationRequested: () => ({ dispose: () => undefined }),
};

export class CancelSource {
  private cancelled = false;
  private readonly listeners = new Set<(e: unknown) => unknown>();
  readonly token: CancelToken;

  constructor(...parents: (CancelToken | undefined)[]) {
    const self = this;
    this.token = {
      get isCancellationRequested() {
        return self.cancelled;
      },
      onCancellationRequested(listener) {
        if (self.cancelled) {
          queueMicrotask(() => listener(undefined));
          return { dispose: () => undefined };
        }
        self.listeners.add(listener);
        return { dispose: () => self.listeners.delete(listener) };
      },
    };
    for (const p of parents) {
      if (!p) continue;
      if (p.isCancellationRequested) this.cancel();
      else p.onCancellationRequested(() => this.cancel());
    }
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const l of [...this.listeners]) {
      try {
        l(undefined);
      } catch {
        // a listener's failure is not the canceller's
      }
    }
    this.listeners.clear();
  }
}

/** An AbortSignal that follows a token (for fetch-like APIs). */
export function signalOf(token: CancelToken): AbortSignal {
  const ctl = new AbortController();
  if (token.isCancellationRequested) ctl.abort();
  else token.onCancellationRequested(() => ctl.abort());
  return ctl.signal;
}

/** Timers, so tests can drive waits deterministically. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

/** Waits `ms`; resolves false at once when the token is cancelled first. */
export function wait(ms: number, token: CancelToken, timers: Timers = realTimers): Promise<boolean> {
  if (token.isCancellationRequested) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const sub = token.onCancellationRequested(() => {
      timers.clearTimeout(id);
      resolve(false);
    });
    const id = timers.setTimeout(() => {
      sub.dispose();
      resolve(!token.isCancellationRequested);
    }, ms);
  });
}

/** A token that follows an AbortSignal (for callers that hold a signal, like the context log's feeds). */
export function tokenOf(signal: AbortSignal): CancelToken {
  const source = new CancelSource();
  if (signal.aborted) source.cancel();
  else signal.addEventListener('abort', () => source.cancel(), { once: true });
  return source.token;
}
