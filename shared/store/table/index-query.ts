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

type Key = Record<string, unknown>;

/**
 * One Query of one shard's partition: the one place the sparse indexes are read (the listing,
 * its pages and the reaper's pages all go through it). `last` is DynamoDB's LastEvaluatedKey.
 */
export async function queryShard(
  table: Table,
  q: IndexQuery,
  shard: number,
  opts: { start?: Key; limit?: number; attributes?: readonly string[] } = {},
): Promise<{ items: Record<string, unknown>[]; last?: Key }> {
  const names: Record<string, string> = { '#h': q.hashAttr, ...(q.below === undefined ? {} : { '#r': q.rangeAttr }) };
  opts.attributes?.forEach((a, i) => (names[`#a${i}`] = a));
  const out = await table.doc.query({
    TableName: table.name,
    IndexName: q.index,
    KeyConditionExpression: q.below === undefined ? '#h = :h' : '#h = :h AND #r < :b',
    ProjectionExpression: opts.attributes?.map((_, i) => `#a${i}`).join(', '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues:
      q.below === undefined ? { ':h': `${q.kind}#${shard}` } : { ':h': `${q.kind}#${shard}`, ':b': q.below },
    ExclusiveStartKey: opts.start,
    Limit: opts.limit,
  });
  return { items: (out.Items ?? []) as Record<string, unknown>[], last: out.LastEvaluatedKey };
}

/** Every item of a sparse index partition, over all shards, page by page. */
export async function queryIndex(table: Table, q: IndexQuery): Promise<Record<string, unknown>[]> {
  const wholeShard = async (shard: number) => {
    const found: Record<string, unknown>[] = [];
    let start: Key | undefined;
    do {
      const page = await queryShard(table, q, shard, { start });
      found.push(...page.items);
      start = page.last;
    } while (start);
    return found;
  };
  const shards = Array.from({ length: await table.shards() }, (_, shard) => shard);
  return (await Promise.all(shards.map(wholeShard))).flat();
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
  const cursors = new Map<number, Key | undefined>();
  for (let shard = 0; shard < (await table.shards()); shard++) cursors.set(shard, undefined);
  while (cursors.size > 0) {
    for (const [shard, start] of [...cursors]) {
      const page = await queryShard(table, q, shard, { start, limit: pageSize, attributes: q.attributes });
      if (page.last) cursors.set(shard, page.last);
      else cursors.delete(shard);
      if (page.items.length > 0) yield page.items;
    }
  }
}
