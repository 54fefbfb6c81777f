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

/** A device's answer status in words (docs/PROTOCOL.md). */
const WORDS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Deleted',
  204: 'Changed',
  205: 'Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Timeout',
  409: 'Conflict',
  500: 'Internal Server Error',
};

export function statusWords(status: number): string {
  return `${status} ${WORDS[status] ?? 'Unknown'}`;
}
