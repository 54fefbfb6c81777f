import type { ClientChannel } from '../../shared/protocol/topics';

/**
 * Hostile and broken input shared by the handler tests. Each case is a raw payload string (so
 * keys such as `__proto__` survive as written) and the transId a 400 must echo: the client's
 * when the payload decoded far enough to read a usable one, else 0.
 */
export type MalformedCase = [name: string, raw: string, echoedTransId: number];

const nest = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);

/** `valid` is a body the channel accepts; its transId must be a positive integer. */
export function malformedPayloads(valid: Record<string, unknown>): MalformedCase[] {
  const t = valid.transId as number;
  const body = JSON.stringify(valid);
  const withField = (field: string) => `${body.slice(0, -1)},${field}}`;
  return [
    ['not JSON', `{"transId":${t},`, 0],
    ['empty payload', '', 0],
    ['binary garbage', '\u0000\u0001\u00ff\ufffd', 0],
    ['a JSON array', `[${body}]`, 0],
    ['a JSON string', JSON.stringify(body), 0],
    ['JSON null', 'null', 0],
    ['a JSON number', String(t), 0],
    ['transId as a string', JSON.stringify({ ...valid, transId: String(t) }), 0],
    ['negative transId', JSON.stringify({ ...valid, transId: -t }), 0],
    ['fractional transId', JSON.stringify({ ...valid, transId: t + 0.5 }), 0],
    ['missing transId', JSON.stringify({ ...valid, transId: undefined }), 0],
    ['payload over 64 KiB', withField(`"pad":"${'x'.repeat(70 * 1024)}"`), 0],
    ['nesting 20 levels deep', withField(`"deep":${nest(20)}`), t],
    ['nesting 20000 levels deep', withField(`"deep":${nest(20_000)}`), t],
    ['a __proto__ key', withField(`"__proto__":{"polluted":true}`), t],
    ['a nested __proto__ key', withField(`"x":{"y":{"__proto__":{"polluted":true}}}`), t],
    ['a constructor key', withField(`"constructor":{"prototype":{"polluted":true}}`), t],
    ['a number that overflows to Infinity', withField(`"big":1e999`), t],
  ];
}

/** Topics a handler of `channel` must ignore without answering. */
export function foreignTopics(channel: ClientChannel, clientId: string): string[] {
  const other = channel === 'ping' ? 'notify' : 'ping';
  return [
    `${other}/${clientId}`,
    `${channel}/response/${clientId}`,
    `${channel}/${clientId}/extra`,
    `${channel}/`,
    `/${clientId}`,
    channel,
    '',
    `${channel}/+`,
    `${channel}/#`,
    `${channel}/a+b`,
    `${channel}/nul\u0000id`,
    `${channel}/tab\tid`,
    `${channel}/${'x'.repeat(129)}`,
    `announce`,
  ];
}

/** Asserts nothing leaked onto Object.prototype from a `__proto__` payload. */
export function prototypeIsClean(): boolean {
  return !('polluted' in {}) && (Object.prototype as Record<string, unknown>).polluted === undefined;
}
