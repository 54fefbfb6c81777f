import type { DeviceWrite } from './device-writes';
import type { DeviceItem, DeviceRecord } from './model';

export interface DevicePage {
  devices: DeviceRecord[];
  next?: string;
}

/** A `cursor` that is not the `next` of a page. */
export class BadCursorError extends Error {}

/**
 * The registered devices. An expired item is gone for every reader, whether or not the table's
 * TTL has collected it yet. Implementations: the table (shared/store/table/devices.ts) and the
 * same with an item cache around it (shared/store/cached-devices.ts), for a process that is its
 * table's one writer. Both pass test/contract/device-store.contract.ts.
 */
export interface DeviceStore {
  /** The live device, or null. */
  get(clientId: string, nowMs: number): Promise<DeviceItem | null>;

  /** Whether a live device exists (may read less than `get`). */
  isRegistered(clientId: string, nowMs: number): Promise<boolean>;

  /**
   * Writes a newly registered device over nothing, over an expired record, or over the same
   * device (same mac); 'conflict' when a live record of another mac holds the clientId.
   */
  create(item: DeviceItem, nowMs: number): Promise<{ existed: boolean } | 'conflict'>;

  /**
   * Applies one write (shared/store/device-writes.ts) if its conditions hold: returns the item
   * as it was before, or null when they did not (not registered, unknown object...). Throws
   * RejectedValueError, changing nothing, for a value the store cannot hold.
   */
  apply(clientId: string, write: DeviceWrite): Promise<DeviceItem | null>;

  /** Removes a live device; what it was, or null when it was not registered. */
  remove(clientId: string, nowMs: number): Promise<DeviceItem | null>;

  /** Removes a device only if its lifetime ran out, so a racing renewal wins; what it was, or null. */
  reap(clientId: string, nowMs: number): Promise<DeviceItem | null>;

  /** Every live device, sorted by clientId; no table scan. */
  list(nowMs: number): Promise<DeviceRecord[]>;

  /**
   * At most `limit` live devices, sorted by clientId within the page, from where `cursor` (the
   * `next` of the page before) left off; `next` is absent on the last page. A page may hold
   * fewer than `limit` (devices that expired meanwhile are left out) and still have a `next`.
   * Throws BadCursorError for a cursor this store did not make.
   */
  page(nowMs: number, limit: number, cursor?: string): Promise<DevicePage>;

  /**
   * Devices the reaper should look at (their lifetime may have been renewed since), in pages of
   * at most `pageSize`, read only as far as the caller iterates. A device the reaper removes or
   * finds renewed leaves the index, so the next call goes on where this one stopped.
   */
  expiredIds(nowMs: number, pageSize: number): AsyncIterable<string[]>;

  /** Sleeping devices whose wake deadline passed, paged like `expiredIds`. */
  overdueSleeperIds(nowMs: number, pageSize: number): AsyncIterable<string[]>;
}
