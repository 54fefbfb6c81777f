/**
 * Runs tasks one after another per key and concurrently across keys, at most `limit` at once:
 * one device's messages stay in order, a slow or silent device never stalls the others, and a
 * burst of thousands of devices does not open thousands of store calls at once (they would
 * queue inside the store client until its timeouts fire). Urgent tasks take free slots first.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly waiting: { urgent: Array<() => void>; normal: Array<() => void> } = { urgent: [], normal: [] };
  private running = 0;
  private pending = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly limit = Infinity) {}

  get size(): number {
    return this.pending;
  }

  push(key: string, task: () => Promise<void>, urgent = false): Promise<void> {
    this.pending++;
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous
      .then(() => this.acquire(urgent))
      .then(() => task().finally(() => this.release()))
      .finally(() => {
        this.pending--;
        if (this.tails.get(key) === tail) this.tails.delete(key);
        if (this.pending === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
      });
    // A failed task must not stop the ones queued behind it for the same key.
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    return run;
  }

  /** Resolves when every task pushed so far has finished. */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private acquire(urgent: boolean): Promise<void> {
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => (urgent ? this.waiting.urgent : this.waiting.normal).push(resolve));
  }

  private release(): void {
    const next = this.waiting.urgent.shift() ?? this.waiting.normal.shift();
    if (next) next();
    else this.running--;
  }
}
