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
  /** One shard after another (background work), instead of all at once. */
  oneAtATime?: boolean;
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
  if (!q.oneAtATime) return (await Promise.all(shards.map(queryShard))).flat();
  // The reaper's background look-ups, one after another: a burst of them at once would stall
  // the devices' own store calls behind it (and show in their worst latencies).
  const found: Record<string, unknown>[] = [];
  for (const shard of shards) found.push(...(await queryShard(shard)));
  return found;
}
