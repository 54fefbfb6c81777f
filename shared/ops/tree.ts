import { isDeepStrictEqual } from 'node:util';
import { normalizeIid, normalizeRid, type Id } from '../protocol/ids';

type Instance = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * An object read result `{iid: {rid|name: value}}` keyed by numeric ids (the reference client
 * uses resource names here, but numbers in notify). Null when the shape is not an object read.
 */
export function normalizeObjectRead(oid: string, data: unknown): Record<string, Instance> | null {
  if (!isPlainObject(data)) return null;
  const out: Record<string, Instance> = {};
  for (const [iid, resources] of Object.entries(data)) {
    if (!isPlainObject(resources)) return null;
    out[normalizeIid(iid)] = normalizeInstance(oid, resources);
  }
  return out;
}

export function normalizeInstance(oid: Id, resources: Record<string, unknown>): Instance {
  const out: Instance = {};
  for (const [rid, value] of Object.entries(resources)) out[normalizeRid(oid, rid)] = value;
  return out;
}

/** Only the resources whose value really differs from what was stored. */
export function changedResources(before: Instance | undefined, after: Instance): Instance {
  const out: Instance = {};
  for (const [rid, value] of Object.entries(after)) {
    if (!before || !isDeepStrictEqual(before[rid], value)) out[rid] = value;
  }
  return out;
}
