import { DeviceCache } from './device-cache';
import type { DevicePage, DeviceStore } from './devices';
import { applyWrite, changesNothing, type DeviceWrite } from './device-writes';
import { toSeconds, type DeviceItem, type DeviceRecord } from './model';
import type { TableDeviceStore } from './table/devices';

/**
 * The device store with an item cache around it, for a process that is its table's one writer
 * (the local stack over its own embedded store): a read of a known device and a write that
 * would change nothing never reach the store, and a write's result comes from applying the
 * same write (shared/store/device-writes.ts) to the cached item instead of from the store.
 */
export class CachedDeviceStore implements DeviceStore {
  constructor(
    private readonly table: TableDeviceStore,
    private readonly cache = new DeviceCache(),
  ) {}

  /** Learns which devices have an item, so a first registration needs no store read. Call before any traffic. */
  async loadDirectory(): Promise<number> {
    const ids = await this.table.allIds();
    this.cache.loadDirectory(ids);
    return ids.length;
  }

  async get(clientId: string, nowMs: number): Promise<DeviceItem | null> {
    const cached = this.cache.get(clientId);
    if (cached) return cached.expiresAt >= toSeconds(nowMs) ? { ...cached } : null;
    if (this.cache.knownAbsent(clientId)) return null;
    // Read with no expiry filter (nowMs 0): the cache keeps the item even once it has expired.
    const item = await this.cache.track(
      clientId,
      () => this.table.get(clientId, 0),
      (found) => found,
    );
    return item && item.expiresAt >= toSeconds(nowMs) ? { ...item } : null;
  }

  async isRegistered(clientId: string, nowMs: number): Promise<boolean> {
    // Even while a call on the device is under way: a racing removal makes no difference worth a read.
    const known = this.cache.peek(clientId);
    if (known) return known.expiresAt >= toSeconds(nowMs);
    return (await this.get(clientId, nowMs)) !== null;
  }

  create(item: DeviceItem, nowMs: number): Promise<{ existed: boolean } | 'conflict'> {
    return this.cache.track(
      item.clientId,
      () => this.table.create(item, nowMs),
      (outcome) => (outcome === 'conflict' ? undefined : { ...item }),
    );
  }

  async apply(clientId: string, write: DeviceWrite): Promise<DeviceItem | null> {
    // The cached item is what the store holds while no other call on the device is under way.
    const cached = this.cache.get(clientId);
    if (!cached) {
      return this.cache.track(
        clientId,
        () => this.table.apply(clientId, write),
        (before) => (before ? (applyWrite(before, write) ?? undefined) : undefined),
      );
    }
    const after = applyWrite(cached, write);
    if (after && changesNothing(cached, write)) return { ...cached };
    const held = await this.cache.track(
      clientId,
      () => this.table.applyQuietly(clientId, write),
      (ok) => (ok && after ? after : undefined),
    );
    return held ? { ...cached } : null;
  }

  remove(clientId: string, nowMs: number): Promise<DeviceItem | null> {
    return this.cache.track(
      clientId,
      () => this.table.remove(clientId, nowMs),
      () => null,
    );
  }

  reap(clientId: string, nowMs: number): Promise<DeviceItem | null> {
    // Not reaped: it renewed, so it exists, but what its item is now is not known here.
    return this.cache.track(
      clientId,
      () => this.table.reap(clientId, nowMs),
      (removed) => (removed ? null : undefined),
    );
  }

  list(nowMs: number): Promise<DeviceRecord[]> {
    return this.table.list(nowMs);
  }

  page(nowMs: number, limit: number, cursor?: string): Promise<DevicePage> {
    return this.table.page(nowMs, limit, cursor);
  }

  expiredIds(nowMs: number, pageSize: number): AsyncIterable<string[]> {
    return this.table.expiredIds(nowMs, pageSize);
  }

  overdueSleeperIds(nowMs: number, pageSize: number): AsyncIterable<string[]> {
    return this.table.overdueSleeperIds(nowMs, pageSize);
  }
}
