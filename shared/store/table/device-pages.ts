import { BadCursorError } from '../devices';
import type { Table } from './client';
import { EXPIRY_INDEX } from './definition';
import { queryShard } from './index-query';

const DEVICES = { index: EXPIRY_INDEX, kind: 'd', hashAttr: 'kind', rangeAttr: 'dueAt' } as const;

/**
 * The device list a page at a time (`GET /devices?limit=&cursor=`): one answer for a whole fleet
 * would pass Lambda's 6 MB response limit at about 20,000 devices (docs/SCALE.md), and reading
 * every shard for each page would cost the whole index per page. So a page reads the expiry
 * index's shards one after another from where the last page stopped; the cursor is that place
 * (the shard and DynamoDB's LastEvaluatedKey), opaque to clients.
 */

interface Place {
  /** The shard being read. */
  s: number;
  /** DynamoDB's LastEvaluatedKey in that shard; absent at the shard's start. */
  k?: Record<string, string | number>;
}

/** The index items of one page and the place after them (undefined: nothing left). */
export async function readIndexPage(
  table: Table,
  limit: number,
  cursor: string | undefined,
): Promise<{ items: Record<string, unknown>[]; next?: string }> {
  const shards = await table.shards();
  let place = cursor === undefined ? { s: 0 } : decodeCursor(cursor);
  const items: Record<string, unknown>[] = [];
  while (place.s < shards && items.length < limit) {
    const page = await queryShard(table, DEVICES, place.s, { start: place.k, limit: limit - items.length });
    items.push(...page.items);
    place = page.last ? { s: place.s, k: page.last as Place['k'] } : { s: place.s + 1 };
  }
  return { items, next: place.s < shards ? encodeCursor(place) : undefined };
}

export function encodeCursor(place: Place): string {
  return Buffer.from(JSON.stringify(place)).toString('base64url');
}

/** The place a cursor names; BadCursorError for anything this module did not encode. */
export function decodeCursor(cursor: string): Place {
  let place: unknown;
  try {
    place = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new BadCursorError('cursor is not one a page of GET /devices gave');
  }
  const p = place as Partial<Place> | null;
  const keyOk =
    p?.k === undefined ||
    (typeof p.k === 'object' &&
      p.k !== null &&
      Object.keys(p.k).length <= 4 &&
      Object.values(p.k).every((v) => typeof v === 'string' || typeof v === 'number'));
  if (typeof p !== 'object' || p === null || !Number.isSafeInteger(p.s) || (p.s as number) < 0 || !keyOk) {
    throw new BadCursorError('cursor is not one a page of GET /devices gave');
  }
  return { s: p.s as number, ...(p.k ? { k: p.k } : {}) };
}
