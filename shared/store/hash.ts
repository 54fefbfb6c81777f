/**
 * Stable 32-bit hashes of a clientId, for spreading devices: over the index shards
 * (table/items.ts `shardOf`, plain FNV-1a: stored items keep the shard it gave them, so it never
 * changes), and, mixed, over the reaper's delay (due.ts) and the index sort fraction (table/items.ts).
 */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * FNV-1a of a salted text, through murmur3's finalizer: without it the high bits barely move
 * with the last character (node-1, node-2... would land together), and the salt keeps each use
 * independent of the shard and of the others.
 */
export function mixedHash(salt: string, text: string): number {
  let h = fnv1a(`${salt}#${text}`);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
