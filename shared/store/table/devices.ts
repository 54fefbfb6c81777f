import type { DevicePage, DeviceStore } from '../devices';
import type { DeviceWrite, Path } from '../device-writes';
import { dueDelay } from '../due';
import { toSeconds, type DeviceItem, type DeviceRecord } from '../model';
import { assertStorable } from '../storable';
import type { Table } from './client';
import { EXPIRY_INDEX, RECORD_ATTRIBUTES, SLEEP_INDEX } from './definition';
import { renderUpdate } from './expressions';
import { readIndexPage } from './device-pages';
import { indexPages, queryIndex } from './index-query';
import {
  clientIdOfKey,
  DEVICE_SK,
  deviceKey,
  indexPartition,
  indexSortValue,
  isConditionFailure,
  rejectedIfTooLarge,
  stripKeys,
  tieBreak,
} from './items';

/**
 * The devices as items of the table. Every write that can race another handler is one
 * conditional, partial UpdateItem on the attributes it owns (shared/store/device-writes.ts);
 * nothing here reads an item to write it back.
 */

/** A new registration may take the clientId: nobody holds it, its holder expired, or it is the same device. */
const CLIENT_ID_IS_FREE = 'attribute_not_exists(pk) OR expiresAt < :now OR mac = :mac';
/** The reaper removes a device only if its lifetime really ran out. */
const LIFETIME_RAN_OUT = 'expiresAt < :now';

const isAttr = (path: Path, name: string) => path.length === 1 && path[0] === name;

export class TableDeviceStore implements DeviceStore {
  constructor(private readonly table: Table) {}

  async get(clientId: string, nowMs: number): Promise<DeviceItem | null> {
    const out = await this.table.doc.get({ TableName: this.table.name, Key: deviceKey(clientId), ConsistentRead: true });
    const item = out.Item as DeviceItem | undefined;
    return item && item.expiresAt >= toSeconds(nowMs) ? stripKeys(item) : null;
  }

  async isRegistered(clientId: string, nowMs: number): Promise<boolean> {
    const out = await this.table.doc.get({
      TableName: this.table.name,
      Key: deviceKey(clientId),
      ConsistentRead: true,
      ProjectionExpression: 'expiresAt',
    });
    return typeof out.Item?.expiresAt === 'number' && out.Item.expiresAt >= toSeconds(nowMs);
  }

  async create(item: DeviceItem, nowMs: number): Promise<{ existed: boolean } | 'conflict'> {
    assertStorable(item);
    try {
      const out = await this.table.doc.put({
        TableName: this.table.name,
        Item: {
          ...deviceKey(item.clientId),
          ...item,
          kind: await this.partition('d', item.clientId),
          dueAt: indexSortValue(item.clientId, item.expiresAt + dueDelay(item.clientId, item.lifetime)),
        },
        ConditionExpression: CLIENT_ID_IS_FREE,
        ExpressionAttributeValues: { ':now': toSeconds(nowMs), ':mac': item.mac },
        ReturnValues: 'ALL_OLD',
      });
      const old = out.Attributes as DeviceItem | undefined;
      return { existed: !!old && old.expiresAt >= toSeconds(nowMs) };
    } catch (err) {
      if (isConditionFailure(err)) return 'conflict';
      throw rejectedIfTooLarge(err);
    }
  }

  async apply(clientId: string, write: DeviceWrite): Promise<DeviceItem | null> {
    const out = await this.send(clientId, write, 'ALL_OLD');
    return out ? stripKeys(out as unknown as DeviceItem) : null;
  }

  /** The write without the item back (for the cache, which knows it): whether the conditions held. */
  async applyQuietly(clientId: string, write: DeviceWrite): Promise<boolean> {
    return (await this.send(clientId, write, 'NONE')) !== null;
  }

  private async send(
    clientId: string,
    write: DeviceWrite,
    returnValues: 'ALL_OLD' | 'NONE',
  ): Promise<Record<string, unknown> | null> {
    try {
      const out = await this.table.doc.update({
        TableName: this.table.name,
        Key: deviceKey(clientId),
        ...renderUpdate(await this.withIndexUpkeep(clientId, write)),
        ReturnValues: returnValues,
      });
      return out.Attributes ?? {};
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw rejectedIfTooLarge(err);
    }
  }

  /**
   * The index attributes follow the record (shared/store/table/definition.ts): a new lifetime
   * may bring the expiry before the reaper's next look (`dueAt`, spread by shared/store/due.ts),
   * and a sleep deadline puts the device in the sleep index (`sleepKind`) until it is cleared.
   */
  private async withIndexUpkeep(clientId: string, write: DeviceWrite): Promise<DeviceWrite> {
    const set = [...write.set];
    const remove = [...write.remove];
    const expiry = write.set.find((s) => isAttr(s.path, 'expiresAt'))?.to;
    const lifetime = write.set.find((s) => isAttr(s.path, 'lifetime'))?.to;
    if (expiry && lifetime) {
      // A new lifetime is always a value (changeDevice), so is the expiry it gives.
      const delay = 'value' in lifetime ? dueDelay(clientId, Number(lifetime.value)) : 0;
      set.push({
        path: ['dueAt'],
        to: 'value' in expiry ? { value: indexSortValue(clientId, Number(expiry.value) + delay) } : expiry,
      });
    }
    if (write.set.some((s) => isAttr(s.path, 'wakeBy'))) {
      set.push({ path: ['sleepKind'], to: { value: await this.partition('s', clientId) } });
    }
    if (write.remove.some((p) => isAttr(p, 'wakeBy'))) remove.push(['sleepKind']);
    return { requires: write.requires, set, remove };
  }

  async remove(clientId: string, nowMs: number): Promise<DeviceItem | null> {
    const out = await this.table.doc.delete({ TableName: this.table.name, Key: deviceKey(clientId), ReturnValues: 'ALL_OLD' });
    const old = out.Attributes as DeviceItem | undefined;
    return old && old.expiresAt >= toSeconds(nowMs) ? stripKeys(old) : null;
  }

  async reap(clientId: string, nowMs: number): Promise<DeviceItem | null> {
    try {
      const out = await this.table.doc.delete({
        TableName: this.table.name,
        Key: deviceKey(clientId),
        ConditionExpression: LIFETIME_RAN_OUT,
        ExpressionAttributeValues: { ':now': toSeconds(nowMs) },
        ReturnValues: 'ALL_OLD',
      });
      return out.Attributes ? stripKeys(out.Attributes as DeviceItem) : null;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    // Renewed since: the reaper looks again when the renewed lifetime runs out.
    try {
      await this.table.doc.update({
        TableName: this.table.name,
        Key: deviceKey(clientId),
        UpdateExpression: 'SET dueAt = expiresAt + :tie',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':tie': tieBreak(clientId) },
      });
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    return null;
  }

  /**
   * Through the expiry index (no scan). The index leaves `expiresAt` out so that notifies do
   * not rewrite it; the current value comes from the items themselves.
   */
  async list(nowMs: number): Promise<DeviceRecord[]> {
    return this.liveRecords(await this.indexedDevices(), nowMs);
  }

  async page(nowMs: number, limit: number, cursor?: string): Promise<DevicePage> {
    const { items, next } = await readIndexPage(this.table, limit, cursor);
    return { devices: await this.liveRecords(items, nowMs), ...(next ? { next } : {}) };
  }

  /** The records of the live devices among `indexed` (index items), with their current expiry, sorted. */
  private async liveRecords(indexed: Record<string, unknown>[], nowMs: number): Promise<DeviceRecord[]> {
    const now = toSeconds(nowMs);
    const expiry = new Map<string, number>();
    for (let i = 0; i < indexed.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = indexed.slice(i, i + 100).map((d) => ({ pk: d.pk, sk: DEVICE_SK }));
      while (keys && keys.length > 0) {
        const out = await this.table.doc.batchGet({
          RequestItems: { [this.table.name]: { Keys: keys, ProjectionExpression: 'pk, expiresAt', ConsistentRead: true } },
        });
        for (const item of out.Responses?.[this.table.name] ?? []) expiry.set(String(item.pk), Number(item.expiresAt));
        keys = out.UnprocessedKeys?.[this.table.name]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return indexed
      .filter((i) => (expiry.get(String(i.pk)) ?? -1) >= now)
      .map((i) => ({ ...pick(i, RECORD_ATTRIBUTES), expiresAt: expiry.get(String(i.pk)) }) as unknown as DeviceRecord)
      .sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  }

  /** Every clientId that has a device item, expired or not. */
  async allIds(): Promise<string[]> {
    return (await this.indexedDevices()).map((i) => clientIdOfKey(i.pk));
  }

  async *expiredIds(nowMs: number, pageSize: number): AsyncIterable<string[]> {
    const query = { index: EXPIRY_INDEX, kind: 'd', hashAttr: 'kind', rangeAttr: 'dueAt', attributes: ['pk'] } as const;
    for await (const items of indexPages(this.table, { ...query, below: toSeconds(nowMs) }, pageSize)) {
      yield items.map((i) => clientIdOfKey(i.pk));
    }
  }

  async *overdueSleeperIds(nowMs: number, pageSize: number): AsyncIterable<string[]> {
    const query = { index: SLEEP_INDEX, kind: 's', hashAttr: 'sleepKind', rangeAttr: 'wakeBy', attributes: ['pk'] } as const;
    for await (const items of indexPages(this.table, { ...query, below: toSeconds(nowMs) }, pageSize)) {
      yield items.map((i) => clientIdOfKey(i.pk));
    }
  }

  private indexedDevices(): Promise<Record<string, unknown>[]> {
    return queryIndex(this.table, { index: EXPIRY_INDEX, kind: 'd', hashAttr: 'kind', rangeAttr: 'dueAt' });
  }

  private partition(kind: 'd' | 's', clientId: string): Promise<string> {
    return indexPartition(kind, clientId, this.table.shards);
  }
}

function pick(item: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in item) out[k] = item[k];
  return out;
}
