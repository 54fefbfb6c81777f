import { RejectedValueError } from '../storable';

/**
 * How records sit in the one table (shared/store/table/definition.ts): all of a device's items
 * share the partition `d#<clientId>`; the sort key says which record it is.
 */
export const DEVICE_SK = 'device';
export const REGISTRATION_SK = 'discovery';

export const deviceKey = (clientId: string) => ({ pk: `d#${clientId}`, sk: DEVICE_SK });
export const registrationKey = (clientId: string) => ({ pk: `d#${clientId}`, sk: REGISTRATION_SK });
export const requestKey = (clientId: string, cmdId: number, transId: number) => ({
  pk: `d#${clientId}`,
  sk: `req#${cmdId}#${transId}`,
});
export const clientIdOfKey = (pk: unknown): string => String(pk).slice(2);

/** The sparse indexes' partitions: `d` devices by expiry, `r` registrations, `s` sleepers. */
export type IndexKind = 'd' | 'r' | 's';

/** FNV-1a: a stable, cheap spread of clientIds over the index shards. */
export function shardOf(clientId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < clientId.length; i++) {
    h ^= clientId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

export const indexPartition = async (kind: IndexKind, clientId: string, shards: () => Promise<number>): Promise<string> =>
  `${kind}#${shardOf(clientId, await shards())}`;

export const isConditionFailure = (err: unknown): boolean => (err as Error)?.name === 'ConditionalCheckFailedException';

/**
 * The one refusal that depends on what the item already holds, so it cannot be checked before
 * the write without a read (a notify costs one write and no read): DynamoDB's 400 KB item size,
 * known by its documented messages for PutItem and UpdateItem. Every other value is checked
 * before the write (shared/store/storable.ts).
 */
const ITEM_TOO_LARGE = /^Item size (to update )?has exceeded the maximum allowed size/;

export function rejectedIfTooLarge(err: unknown): unknown {
  const e = err as Error;
  return e?.name === 'ValidationException' && ITEM_TOO_LARGE.test(e.message)
    ? new RejectedValueError("the record would exceed the store's item size")
    : err;
}

/** The record without the table's keys and index attributes. */
export function stripKeys<T>(item: T): T {
  if (!item) return item;
  const { pk: _pk, sk: _sk, kind: _kind, sleepKind: _sleepKind, dueAt: _dueAt, ...rest } = item as Record<string, unknown>;
  return rest as T;
}
