import { DEFAULT_EVENT_TYPES, parseEventTypes } from '../shared/events';

/**
 * Deployment settings, read from CDK context (`cdk deploy -c key=value` or `cdk.json`).
 * Context values given on the command line arrive as strings, so numbers are parsed here and
 * every value is checked at synth time rather than failing in a Lambda later.
 */
export interface LwmqnSettings {
  /** Physical table name; undefined lets CloudFormation name it (several stacks per account). */
  tableName?: string;
  /** Seconds of lifetime for a register that carries none (LWMQN_DEFAULT_LIFETIME). */
  defaultLifetime: number;
  /** How long the server waits for a device's answer (LWMQN_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** `permit`: unknown clients register only inside a permit-join window (LWMQN_JOIN). */
  join: 'open' | 'permit';
  /** The account's IoT data endpoint (`xxxx-ats.iot.<region>.amazonaws.com`); looked up at deploy time when unset. */
  iotEndpoint?: string;
  /** pino level of the functions' logs (LOG_LEVEL). */
  logLevel: string;
  /** Memory of every function, in MB. */
  memorySize: number;
  /**
   * Bind a device's certificate to its clientId: connect only as the IoT thing the certificate
   * is attached to (clientId = thing name). Off, any valid device certificate may pick any clientId.
   */
  bindThingName: boolean;
  /** How many shards the sparse indexes are spread over (LWMQN_INDEX_SHARDS); raise it, never lower it. */
  indexShards: number;
  /**
   * Stack traces mapped to the TypeScript sources (NODE_OPTIONS=--enable-source-maps). Off by
   * default: Node then parses each bundle's 1.5 MB source map at load, and maps every stack
   * trace it prints, on the path of every cold start and every error.
   */
  sourceMaps: boolean;
  /**
   * The event types published on `lwmqn/events/...` (LWMQN_EVENTS): `all`, `none` or a
   * comma-separated list. Each published event is a billed IoT Core message, subscribed or not.
   */
  events: string;
}

/**
 * Every index shard is one partition key of a sparse index (shared/store/table/items.ts), and
 * DynamoDB serves at most 1,000 write units a second per partition. The burst the default is
 * sized for: 1,000,000 devices all registering again within 5 minutes (reconnecting after an
 * outage), 1,000,000 / 300 s = 3,334 registrations a second. One registration writes at most
 * 2 units into one `byExpiry` partition of devices (its entry moves: the old `dueAt` deleted,
 * the new one written) and 2 into one partition of registrations in progress (put, then
 * deleted once answered). Spread over S shards, each partition takes 2 x 3,334 / S units a
 * second: 834 with S = 8, too close to 1,000 for a burst that is never flat; 417 with S = 16,
 * under half the limit. Each shard costs the reaper one more query per kind a run (3 x 16 = 48
 * a minute). Items keep the shard they were written with, so raise the count, never lower it:
 * the reaper would no longer look at the shards above it. docs/DEPLOY.md, "Index shards".
 */
export const DEFAULT_INDEX_SHARDS = 16;

/** The same default as LWMQN_EVENTS unset (shared/events.ts): `-c events=all` brings devNotify and devChange back. */
export const CLOUD_EVENTS = DEFAULT_EVENT_TYPES.join(',');

export const DEFAULT_SETTINGS: LwmqnSettings = {
  defaultLifetime: 86_400,
  requestTimeoutMs: 10_000,
  join: 'open',
  logLevel: 'info',
  memorySize: 256,
  bindThingName: false,
  indexShards: DEFAULT_INDEX_SHARDS,
  sourceMaps: false,
  events: CLOUD_EVENTS,
};

/** The context keys this app reads, for docs and error messages. */
export const CONTEXT_KEYS = [
  'stackName',
  'tableName',
  'defaultLifetime',
  'requestTimeoutMs',
  'join',
  'iotEndpoint',
  'logLevel',
  'memorySize',
  'bindThingName',
  'indexShards',
  'sourceMaps',
  'events',
] as const;

/**
 * An HTTP API gives up on its integration after 30 s, and the API function may wait a full
 * request timeout for a device's answer, so the timeout has to leave room for the rest.
 */
export const MAX_CLOUD_REQUEST_TIMEOUT_MS = 25_000;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const IOT_ENDPOINT = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;

type Lookup = (key: string) => unknown;

export function settingsFromContext(lookup: Lookup): LwmqnSettings {
  const s: LwmqnSettings = { ...DEFAULT_SETTINGS };
  const tableName = text(lookup, 'tableName');
  if (tableName !== undefined) {
    if (!TABLE_NAME.test(tableName)) throw new Error(`context tableName: not a DynamoDB table name: ${tableName}`);
    s.tableName = tableName;
  }
  s.defaultLifetime = int(lookup, 'defaultLifetime', s.defaultLifetime, 1, 10 * 365 * 86_400);
  s.requestTimeoutMs = int(lookup, 'requestTimeoutMs', s.requestTimeoutMs, 100, MAX_CLOUD_REQUEST_TIMEOUT_MS);
  const join = text(lookup, 'join');
  if (join !== undefined) {
    if (join !== 'open' && join !== 'permit') throw new Error(`context join: open or permit, not ${join}`);
    s.join = join;
  }
  const iotEndpoint = text(lookup, 'iotEndpoint');
  if (iotEndpoint !== undefined) {
    const host = iotEndpoint.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    if (!IOT_ENDPOINT.test(host)) throw new Error(`context iotEndpoint: a host name, not ${iotEndpoint}`);
    s.iotEndpoint = host;
  }
  const logLevel = text(lookup, 'logLevel');
  if (logLevel !== undefined) {
    if (!LOG_LEVELS.includes(logLevel)) throw new Error(`context logLevel: one of ${LOG_LEVELS.join(', ')}`);
    s.logLevel = logLevel;
  }
  s.memorySize = int(lookup, 'memorySize', s.memorySize, 128, 10_240);
  s.bindThingName = bool(lookup, 'bindThingName', s.bindThingName);
  s.indexShards = int(lookup, 'indexShards', s.indexShards, 1, 1_000);
  s.sourceMaps = bool(lookup, 'sourceMaps', s.sourceMaps);
  const events = text(lookup, 'events');
  if (events !== undefined) {
    parseEventTypes(events, 'context events'); // refused at synth, not in every function later
    s.events = events.replace(/\s+/g, '');
  }
  return s;
}

function bool(lookup: Lookup, key: string, fallback: boolean): boolean {
  const v = lookup(key);
  if (v === undefined || v === null || v === '') return fallback;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new Error(`context ${key}: true or false, not ${JSON.stringify(v)}`);
}

function text(lookup: Lookup, key: string): string | undefined {
  const v = lookup(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`context ${key}: expected a string, got ${JSON.stringify(v)}`);
  return v.trim();
}

function int(lookup: Lookup, key: string, fallback: number, min: number, max: number): number {
  const v = lookup(key);
  if (v === undefined || v === null || v === '') return fallback;
  // Context values are strings or JSON numbers; anything else that does not read as an integer
  // (an object stringifies as '[object Object]') is refused below.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`context ${key}: an integer from ${min} to ${max}, not ${JSON.stringify(v)}`);
  }
  return n;
}
