/** An unbounded async queue that a single reader drains; it ends normally or with an error. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private failWaiting: ((error: unknown) => void) | null = null;
  private done = false;
  private error: unknown = null;

  push(item: T): void {
    if (this.done) return;
    if (this.waiting !== null) {
      const resolve = this.waiting;
      this.clearWaiter();
      resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** No more items; the reader sees the end after the items already queued (or `error`). */
  end(error: unknown = null): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    if (this.waiting !== null && this.items.length === 0) this.settleEnd();
  }

  get ended(): boolean {
    return this.done;
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.done) {
      return this.error === null ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.error);
    }
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  private settleEnd(): void {
    const resolve = this.waiting;
    const reject = this.failWaiting;
    this.clearWaiter();
    if (this.error === null) resolve?.({ value: undefined, done: true });
    else reject?.(this.error);
  }

  private clearWaiter(): void {
    this.waiting = null;
    this.failWaiting = null;
  }
}
