import type { Logger } from '../../ports';
import type { DocumentClient } from './document-client';

/** Tables made before the layout record existed were always spread over this many shards. */
export const LEGACY_SHARDS = 8;
const LAYOUT_KEY = { pk: 'settings', sk: 'layout' };

/**
 * How many shards the sparse indexes are spread over, as recorded in the table itself: the
 * count is fixed by the first start, because items already written carry their shard. A later
 * start that asks for another count gets the recorded one (and a warning), never a reaper
 * that stops looking at half the devices.
 */
export async function indexShards(
  doc: DocumentClient,
  tableName: string,
  opts: { requested?: number; forNewTable: number; created: boolean; log: Logger },
): Promise<number> {
  const stored = await recordedIndexShards(doc, tableName);
  if (stored !== undefined) {
    if (opts.requested !== undefined && opts.requested !== stored) {
      opts.log.warn({ requested: opts.requested, recorded: stored }, 'LWMQN_INDEX_SHARDS differs from the table; using the table');
    }
    return stored;
  }
  const shards = opts.requested ?? (opts.created ? opts.forNewTable : LEGACY_SHARDS);
  try {
    await doc.put({ TableName: tableName, Item: { ...LAYOUT_KEY, shards }, ConditionExpression: 'attribute_not_exists(pk)' });
    return shards;
  } catch (err) {
    if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
    // Another process recorded it first.
    return Number(await recordedIndexShards(doc, tableName));
  }
}

/** The shard count recorded in the table, or undefined for a table that has no record (yet). */
export async function recordedIndexShards(doc: DocumentClient, tableName: string): Promise<number | undefined> {
  const out = await doc.get({ TableName: tableName, Key: LAYOUT_KEY, ConsistentRead: true });
  return typeof out.Item?.shards === 'number' ? out.Item.shards : undefined;
}
