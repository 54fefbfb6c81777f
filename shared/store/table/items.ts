import { fnv1a, mixedHash } from '../hash';
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
  return fnv1a(clientId) % shards;
}

/**
 * An index sort value (`dueAt`): whole seconds plus a fraction fixed per device, 0 to 0.99999.
 * dynalite, the embedded store, keys an index entry on its sort value and only 24 bits of a hash
 * of the item's key: among the thousands of devices a registration burst gives the same second,
 * two could share one entry, and one would vanish from the index (never listed, never reaped;
 * test/integration/device-pages.test.ts found it with 25,000). The fraction makes such ties all
 * but impossible. It changes no comparison with whole seconds (`dueAt < now`), and two fractions
 * 1e-5 apart stay apart in a double (about 40 of its steps at 1.7e9 s).
 */
export function indexSortValue(clientId: string, seconds: number): number {
  return seconds + tieBreak(clientId);
}

export function tieBreak(clientId: string): number {
  return (mixedHash('tie', clientId) % 100_000) / 100_000;
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
