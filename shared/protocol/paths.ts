import { normalizeIid, normalizeOid, normalizeRid } from './ids';

/** A target `oid[/iid[/rid]]` with numbers or IPSO names, normalised to numeric-string ids. */
export interface Target {
  oid: string;
  iid?: string;
  rid?: string;
}

const SEGMENT = /^[A-Za-z0-9_.-]{1,64}$/;

/** `temperature/0/sensorValue` = `3303/0/5700`; null when it is not a path. */
export function parsePath(path: unknown): Target | null {
  if (typeof path !== 'string') return null;
  const parts = path.replace(/^\/+|\/+$/g, '').split('/');
  if (parts.length < 1 || parts.length > 3 || !parts.every((p) => SEGMENT.test(p))) return null;
  const [oidRaw, iidRaw, ridRaw] = parts;
  const oid = normalizeOid(oidRaw);
  return {
    oid,
    ...(iidRaw !== undefined ? { iid: normalizeIid(iidRaw) } : {}),
    ...(ridRaw !== undefined ? { rid: normalizeRid(oid, ridRaw) } : {}),
  };
}
