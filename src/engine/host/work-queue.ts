// Runs calls on one session strictly one after another (the engine admits
// one call per session at a time), so callers may send concurrent requests.

export class WorkQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Calls queued or running. */
  get size(): number {
    return this.pending;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(work, work);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.pending--;
    });
  }
}
