// A push-to-pull queue: items pushed by notifications, read with for await.
// Ends when the request that feeds it settles; a failed request makes the
// loop throw after the items that came before the failure.

export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private waitingReject: ((e: unknown) => void) | null = null;
  private done = false;
  private error: unknown = null;
  private iterated = false;

  push(item: T): void {
    if (this.done) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = this.waitingReject = null;
      w({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  end(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    if (error !== undefined) this.error = error;
    if (this.waiting && this.items.length === 0) {
      const w = this.waiting;
      const r = this.waitingReject!;
      this.waiting = this.waitingReject = null;
      if (this.error !== null) r(this.error);
      else w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.iterated) throw new Error('this stream can be iterated only once');
    this.iterated = true;
    return {
      next: () => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
        if (this.done) return this.error !== null ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiting = resolve;
          this.waitingReject = reject;
        });
      },
      return: () => {
        // The reader stopped early: drop what would come.
        this.items.length = 0;
        this.done = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
