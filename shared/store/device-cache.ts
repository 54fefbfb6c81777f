import type { DeviceItem } from './model';

/**
 * The device items as the table last returned them, for a process that is the only writer of
 * its table (the local stack over its own embedded store). Write-through, in the spirit of
 * DAX's item cache: every write still goes to the store, the cache only spares the reads and
 * the writes that would change nothing.
 *
 * An entry is trusted only while no store call on that device is under way, and a call that
 * overlapped another one on the same device leaves no entry behind: two answers coming back in
 * another order than the store applied them cannot leave a stale item here.
 */
export class DeviceCache {
  private readonly items = new Map<string, DeviceItem>();
  private readonly calls = new Map<string, { running: number; overlapped: boolean }>();
  /**
   * The clientIds that have an item in the table, once loaded: then a device not in it is
   * known to have none, without a store read (a new device registering). Ids whose existence a
   * call left in doubt (it failed, or overlapped another) are read from the store again.
   */
  private directory: Set<string> | null = null;
  private readonly doubtful = new Set<string>();

  constructor(private readonly limit = 100_000) {}

  /** Every clientId with an item in the table, read before any call runs. */
  loadDirectory(clientIds: Iterable<string>): void {
    this.directory = new Set(clientIds);
    this.doubtful.clear();
  }

  /** True only when the table certainly holds no item for this device. */
  knownAbsent(clientId: string): boolean {
    return this.directory !== null && !this.directory.has(clientId) && !this.doubtful.has(clientId) && !this.calls.has(clientId);
  }

  /** The item, unless there is none or a store call on this device could be changing it. */
  get(clientId: string): DeviceItem | undefined {
    if (this.calls.has(clientId)) return undefined;
    return this.items.get(clientId);
  }

  /**
   * Runs a store call on one device. `after` says what the item is once the call succeeded:
   * the item, null when there is none, undefined when the call does not tell (the entry goes).
   */
  async track<T>(clientId: string, call: () => Promise<T>, after: (result: T) => DeviceItem | null | undefined): Promise<T> {
    let state = this.calls.get(clientId);
    if (state) {
      state.running++;
      state.overlapped = true;
    } else {
      state = { running: 1, overlapped: false };
      this.calls.set(clientId, state);
    }
    let known: DeviceItem | null | undefined;
    let failed = true;
    try {
      const result = await call();
      known = after(result);
      failed = false;
      return result;
    } finally {
      if (--state.running === 0) this.calls.delete(clientId);
      if (known && !state.overlapped) this.set(clientId, known);
      else this.items.delete(clientId);
      // Existence: an item means there is one, null that there is none; undefined (a write that
      // could not create or remove the item) leaves it as it was.
      if (failed || state.overlapped) this.doubtful.add(clientId);
      else if (known !== undefined) {
        this.doubtful.delete(clientId);
        if (known) this.directory?.add(clientId);
        else this.directory?.delete(clientId);
      }
    }
  }

  /**
   * The item even while a call on the device is under way: good enough to tell whether a
   * device is known, where a racing removal makes no difference worth a store read.
   */
  peek(clientId: string): DeviceItem | undefined {
    return this.items.get(clientId);
  }

  get size(): number {
    return this.items.size;
  }

  private set(clientId: string, item: DeviceItem): void {
    // Re-inserted so the Map's order is least recently written first.
    this.items.delete(clientId);
    this.items.set(clientId, item);
    if (this.items.size > this.limit) this.items.delete(this.items.keys().next().value as string);
  }
}
