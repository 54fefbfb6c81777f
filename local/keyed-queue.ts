/**
 * Runs tasks one after another per key and concurrently across keys: one device's messages
 * stay in order while a slow or silent device never stalls the others.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private pending = 0;
  private idleWaiters: Array<() => void> = [];

  get size(): number {
    return this.pending;
  }

  push(key: string, task: () => Promise<void>): Promise<void> {
    this.pending++;
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.then(task).finally(() => {
      this.pending--;
      if (this.tails.get(key) === run) this.tails.delete(key);
      if (this.pending === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    });
    this.tails.set(key, run);
    return run;
  }

  /** Resolves when every task pushed so far has finished. */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
