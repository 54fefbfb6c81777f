import { statusWords as words } from '../shared/protocol/status';

/** The IPSO/LWM2M names table, put into the bundle by local/console-assets.ts (esbuild `define`). */
declare const IPSO_NAMES: {
  oids: Record<string, string>;
  specific: Record<string, Record<string, string>>;
  unique: Record<string, string>;
};

export function oidName(oid: string): string | undefined {
  return IPSO_NAMES.oids[oid];
}

export function ridName(oid: string, rid: string): string | undefined {
  return IPSO_NAMES.specific[oid]?.[rid] ?? IPSO_NAMES.unique[rid];
}

/** "temperature (3303)", or the bare id when the dictionary does not know it. */
export function labelOid(oid: string): string {
  const name = oidName(oid);
  return name ? `${name} (${oid})` : oid;
}

/** A device's answer status in words (shared/protocol/status.ts). */
export const statusWords = (status: number): string => words(status, 'Unknown');

/** The resource id a name stands for in an object (answers of mqtt-node key instances by name). */
export function ridOf(oid: string, key: string): string {
  if (/^\d+$/.test(key)) return key;
  const find = (table: Record<string, string> | undefined) => Object.entries(table ?? {}).find(([, name]) => name === key)?.[0];
  return find(IPSO_NAMES.specific[oid]) ?? find(IPSO_NAMES.unique) ?? key;
}
