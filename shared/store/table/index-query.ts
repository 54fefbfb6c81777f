import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Table } from './client';
import type { IndexKind } from './items';

export interface IndexQuery {
  index: string;
  kind: IndexKind;
  hashAttr: string;
  rangeAttr: string;
  /** Only items whose range attribute is below this; all of the partition when absent. */
  below?: number;
}

/** Every item of a sparse index partition, over all shards, page by page. */
export async function queryIndex(table: Table, q: IndexQuery): Promise<Record<string, unknown>[]> {
  const queryShard = async (shard: number) => {
    const found: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await table.doc.send(
        new QueryCommand({
          TableName: table.name,
          IndexName: q.index,
          KeyConditionExpression: q.below === undefined ? '#h = :h' : '#h = :h AND #r < :b',
          ExpressionAttributeNames: q.below === undefined ? { '#h': q.hashAttr } : { '#h': q.hashAttr, '#r': q.rangeAttr },
          ExpressionAttributeValues:
            q.below === undefined ? { ':h': `${q.kind}#${shard}` } : { ':h': `${q.kind}#${shard}`, ':b': q.below },
          ExclusiveStartKey: start,
        }),
      );
      found.push(...((out.Items ?? []) as Record<string, unknown>[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return found;
  };
  const shards = Array.from({ length: await table.shards() }, (_, shard) => shard);
  return (await Promise.all(shards.map(queryShard))).flat();
}

/**
 * The items of a sparse index partition whose range attribute is below `below`, in pages of at
 * most `pageSize`, read only as far as the caller iterates: the reaper works through a pile
 * bigger than one run can handle a page at a time and stops at its deadline (functions/reaper.ts).
 * The shards take turns, a page each, so a run that stops early has worked on all of them; one
 * query at a time, as background work: a burst of them would stall the devices' own store calls.
 */
export async function* indexPages(
  table: Table,
  q: IndexQuery & { below: number; attributes: readonly string[] },
  pageSize: number,
): AsyncGenerator<Record<string, unknown>[]> {
  const cursors = new Map<number, Record<string, unknown> | undefined>();
  for (let shard = 0; shard < (await table.shards()); shard++) cursors.set(shard, undefined);
  while (cursors.size > 0) {
    for (const [shard, start] of [...cursors]) {
      const out = await table.doc.send(
        new QueryCommand({
          TableName: table.name,
          IndexName: q.index,
          KeyConditionExpression: '#h = :h AND #r < :b',
          ProjectionExpression: q.attributes.map((_, i) => `#a${i}`).join(', '),
          ExpressionAttributeNames: {
            '#h': q.hashAttr,
            '#r': q.rangeAttr,
            ...Object.fromEntries(q.attributes.map((a, i) => [`#a${i}`, a])),
          },
          ExpressionAttributeValues: { ':h': `${q.kind}#${shard}`, ':b': q.below },
          ExclusiveStartKey: start,
          Limit: pageSize,
        }),
      );
      if (out.LastEvaluatedKey) cursors.set(shard, out.LastEvaluatedKey);
      else cursors.delete(shard);
      const items = (out.Items ?? []) as Record<string, unknown>[];
      if (items.length > 0) yield items;
    }
  }
}
