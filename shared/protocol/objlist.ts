import { normalizeIid, normalizeOid, type Id } from './ids';
import type { ObjList } from './objlist-shape';

/** Canonical objList: numeric-string oid -> sorted, distinct iids (docs/PROTOCOL.md, "Object tree and identifiers"). */
export type { ObjList };

export type WireObjList = Array<{ oid: Id; iid: Id }> | Record<string, Id[]>;

export function canonicalObjList(input: WireObjList): ObjList {
  const pairs: Array<[Id, Id]> = Array.isArray(input)
    ? input.map(({ oid, iid }) => [oid, iid])
    : Object.entries(input).flatMap(([oid, iids]) => iids.map((iid): [Id, Id] => [oid, iid]));
  const byOid = new Map<string, Set<string>>();
  for (const [oid, iid] of pairs) {
    const key = normalizeOid(oid);
    if (!byOid.has(key)) byOid.set(key, new Set());
    byOid.get(key)!.add(normalizeIid(iid));
  }
  const out: ObjList = {};
  for (const oid of [...byOid.keys()].sort(compareIds)) {
    out[oid] = [...byOid.get(oid)!].sort(compareIds).map(iidValue);
  }
  return out;
}

export function sameObjList(a: ObjList, b: ObjList): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function iidValue(iid: string): string | number {
  return /^(0|[1-9][0-9]*)$/.test(iid) ? Number(iid) : iid;
}

function compareIds(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}
