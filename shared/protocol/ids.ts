import lwm2mId = require('lwm2m-id');

/**
 * Identifier normalisation (docs/PROTOCOL.md, "Object tree and identifiers"). The stored tree is keyed by numeric ids
 * written as strings (DynamoDB map keys are strings); names the IPSO/LWM2M dictionary does
 * not know stay as given.
 */
export type Id = string | number;

const NUMERIC = /^(0|[1-9][0-9]{0,9})$/;

function asNumeric(id: Id): number | undefined {
  if (typeof id === 'number') return Number.isSafeInteger(id) && id >= 0 ? id : undefined;
  return NUMERIC.test(id) ? Number(id) : undefined;
}

/**
 * A dictionary hit only when the name is exactly an entry's key: lwm2m-id also parses lenient
 * numbers ('1e3', ' 3303', '05700') and answers its own methods ('toString', 'get', 'size').
 */
function known(item: unknown, name: Id): number | undefined {
  const entry = item as { key?: unknown; value?: unknown } | undefined;
  return entry && typeof entry === 'object' && entry.key === name && typeof entry.value === 'number' ? entry.value : undefined;
}

export function normalizeOid(oid: Id): string {
  const n = asNumeric(oid);
  if (n !== undefined) return String(n);
  const value = known(lwm2mId.getOid(oid), oid);
  return value !== undefined ? String(value) : String(oid);
}

export function normalizeIid(iid: Id): string {
  const n = asNumeric(iid);
  return n !== undefined ? String(n) : String(iid);
}

/** Resource names are looked up under their object first, then among the generic resources. */
export function normalizeRid(oid: Id, rid: Id): string {
  const n = asNumeric(rid);
  if (n !== undefined) return String(n);
  const key = normalizeOid(oid);
  const oidNum = asNumeric(key);
  const value = (oidNum !== undefined ? known(lwm2mId.getRid(oidNum, rid), rid) : undefined) ?? known(lwm2mId.getRid(rid), rid);
  return value !== undefined ? String(value) : String(rid);
}

/** Numbers stay numbers on the wire when they are numeric, so devices see what they sent. */
export function wireId(id: string): string | number {
  const n = asNumeric(id);
  return n !== undefined ? n : id;
}

/** The IPSO/LWM2M name of an object, or undefined when the dictionary does not know it. */
export function oidName(oid: string): string | undefined {
  const n = asNumeric(oid);
  const entry = n !== undefined ? (lwm2mId.getOid(n) as { key?: unknown } | undefined) : undefined;
  return typeof entry?.key === 'string' ? entry.key : undefined;
}

/** The name of a resource under its object (or among the generic resources), or undefined. */
export function ridName(oid: string, rid: string): string | undefined {
  const o = asNumeric(oid);
  const r = asNumeric(rid);
  if (o === undefined || r === undefined) return undefined;
  const entry = (lwm2mId.getRid(o, r) ?? lwm2mId.getRid(r)) as { key?: unknown } | undefined;
  return typeof entry?.key === 'string' ? entry.key : undefined;
}
