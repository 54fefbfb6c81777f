import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import { writeToStream } from 'mqtt-packet';
import pino from 'pino';
import { CHANNEL_HANDLERS } from '../functions';
import { createApi } from '../functions/api';
import { reaper } from '../functions/reaper';
import { configFromEnv, positiveInt } from '../shared/config';
import type { Deps } from '../shared/deps';
import { eventTypesFromEnv, fanOutEventSink, mqttEventSink } from '../shared/events';
import { systemClock, type Logger, type Publisher } from '../shared/ports';
import { CachedDeviceStore } from '../shared/store/cached-devices';
import { createDocumentClient, createDynamoClient, fixedShards, instrumentStore, type Table } from '../shared/store/table/client';
import { TableDeviceStore } from '../shared/store/table/devices';
import { ensureTable } from '../shared/store/table/definition';
import { indexShards, LEGACY_SHARDS } from '../shared/store/table/layout';
import { TableSettingsStore } from '../shared/store/table/settings';
import { Bridge, BrokerRefusedError } from './bridge';
import { consoleAssets } from './console-assets';
import { createEmbeddedStoreClient, startStoreThread, type Running } from './embedded-store';
import { EventBus } from './event-bus';
import { MemoryPendingCommands } from './memory-commands';
import { MemoryRegistrationStore } from './memory-registrations';
import { PromMetrics } from './prom-metrics';
import { warmUpServer } from './server-warmup';

/** Everything `npm start` runs on one machine: broker, store, bridge, HTTP API, reaper. */
export interface Stack {
  deps: Deps;
  bridge: Bridge;
  bus: EventBus;
  mqttUrl: string;
  dynamoEndpoint: string;
  apiUrl: string;
  /** Runs the reaper once now (the interval runs it anyway). */
  reap(): ReturnType<typeof reaper>;
  close(): Promise<void>;
  /** What a shutdown in progress is waiting for (named in the log when it runs out of time). */
  closingStep(): string;
}

export async function startStack(env: NodeJS.ProcessEnv = process.env, log?: Logger): Promise<Stack> {
  const logger: Logger = log ?? pino({ level: env.LOG_LEVEL ?? 'info' });
  // One mqtt-packet for the embedded broker and the bridge: no cache of 65,536 packet-id Buffers
  // (local/bridge.ts, writeCache, says why), before the first packet either writes (a fleet
  // reconnecting after a restart can reach the broker before the bridge connects).
  writeToStream.cacheNumbers = false;
  const config = configFromEnv(env);
  const published = eventTypesFromEnv(env);
  const owned: Running[] = [];
  const stopOwned = async () => {
    for (const r of owned.reverse()) await r.close().catch(() => undefined);
  };
  try {
    let dynamoEndpoint = env.DYNAMODB_ENDPOINT;
    let storeChannel: MessagePort | undefined;
    const embeddedStore = !dynamoEndpoint;
    const cacheDevices = deviceCacheSetting(env, embeddedStore);
    const warmupNotifies = embeddedStore ? warmupSetting(env) : 0;
    if (!dynamoEndpoint) {
      const dataDir = resolve(env.LWMQN_DATA_DIR || '.lwmqn');
      const store = await startStoreThread(dataDir, warmupNotifies);
      owned.push(store);
      dynamoEndpoint = store.url;
      storeChannel = store.channel;
      logger.info({ dataDir }, 'embedded DynamoDB-compatible store (dynalite) started');
    }
    let mqttUrl = env.MQTT_URL;
    // The embedded broker knows the bridge by a secret made at each start (docs/SECURITY.md).
    let embeddedLogin: { clientId: string; username: string; password: string } | undefined;
    if (!mqttUrl) {
      // require(), not import(): under `node --require tsx/cjs` (`npx lwmqn start`, the tests'
      // servers) only tsx's CommonJS hook is installed, and an import() goes to Node's own ESM
      // loader, which cannot find a .ts file. Loaded only here, because aedes is an ES module
      // (Node 20.19+ requires it; jest's module system cannot) and the rest must load everywhere.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { startEmbeddedBroker, embeddedBrokerSettings } = require('./embedded-broker') as typeof import('./embedded-broker');
      const broker = await startEmbeddedBroker({ ...embeddedBrokerSettings(env), log: logger });
      owned.push(broker);
      mqttUrl = broker.url;
      embeddedLogin = broker.bridgeLogin;
      logger.info({ url: mqttUrl }, 'embedded MQTT broker (aedes) started');
    }

    const dynamo = embeddedStore
      ? createEmbeddedStoreClient(dynamoEndpoint, storeChannel)
      : createDynamoClient({
          endpoint: dynamoEndpoint,
          region: env.AWS_REGION ?? 'local',
          credentials: {
            accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'local',
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'local',
          },
        });
    // Read only when /metrics is scraped; `deps` and `bridge` exist by then.
    const metrics = new PromMetrics({
      devices: () => deps.devices.list(Date.now()),
      bridge: () => bridge.backlog(),
    });
    instrumentStore(dynamo, metrics);
    const tableName = env.TABLE_NAME || 'lwmqn';
    const created = await ensureTable(dynamo, tableName);
    const doc = createDocumentClient(dynamo);
    // Shards spread index writes over DynamoDB partitions; the embedded store has none, and
    // every shard is one more query for each reaper run.
    const shards = await indexShards(doc, tableName, {
      requested: env.LWMQN_INDEX_SHARDS ? positiveInt(env, 'LWMQN_INDEX_SHARDS', LEGACY_SHARDS) : undefined,
      forNewTable: embeddedStore ? 1 : LEGACY_SHARDS,
      created: created === 'created',
      log: logger,
    });
    logger.info({ tableName, created, shards }, 'table ready');

    const login = bridgeLogin(env);
    const bridge = new Bridge({
      url: mqttUrl,
      clientId: embeddedLogin?.clientId ?? (env.LWMQN_BRIDGE_ID || 'lwmqn-bridge'),
      ...(embeddedLogin ? { username: embeddedLogin.username, password: embeddedLogin.password } : login),
      log: logger,
      handlers: CHANNEL_HANDLERS,
      concurrency: positiveInt(env, 'LWMQN_BRIDGE_CONCURRENCY', 64),
    });
    const bus = new EventBus();
    // Events go out on MQTT through a publisher and to the local SSE stream; the bridge builds
    // the same sink over each handler's own publisher. LWMQN_EVENTS filters only what goes out
    // on MQTT, where subscribers (and, in the cloud, the bill) are: the SSE stream costs nothing
    // and the console lives on it (devNotify and devChange are its live values), so it gets all.
    const eventsOver = (publisher: Publisher) => fanOutEventSink(mqttEventSink(publisher, published), bus);
    const table: Table = { doc, name: tableName, shards: fixedShards(shards) };
    const devices = cacheDevices ? new CachedDeviceStore(new TableDeviceStore(table)) : new TableDeviceStore(table);
    const deps: Deps = {
      devices,
      // The bridge that publishes a registration's reads receives their answers too. Those can
      // wait in the broker behind the messages the bridge has not taken yet (a burst of
      // thousands of registers): that lateness is ours, so registrations do not time out until
      // the bridge has caught up, plus the usual timeout.
      registrations: new MemoryRegistrationStore(() => bridge.lastBehindAt + config.requestTimeoutMs),
      // The API and the bridge share this process: answers reach waiting commands directly.
      commands: new MemoryPendingCommands(),
      settings: new TableSettingsStore(table),
      publisher: bridge.publisher,
      events: eventsOver(bridge.publisher),
      clock: systemClock,
      log: logger,
      metrics,
      config,
    };
    // Before any message: with the cache, a first registration then needs no store read.
    if (devices instanceof CachedDeviceStore) logger.info({ devices: await devices.loadDirectory() }, 'device directory loaded');
    // Returns once connected and subscribed, or once the first attempt failed: the API then
    // serves (GET /health names the broker) while the bridge keeps trying. A refused login stops here.
    await bridge.start(deps, eventsOver).catch((err: unknown) => {
      throw err instanceof BrokerRefusedError ? new Error(refusalMessage(err, login.username)) : err;
    });

    // The web console is bundled now, in the background, so its first page is served at once.
    const consoleFiles = consoleAssets();
    // What a shutdown is waiting for; undefined until one starts.
    let closingStep: string | undefined;
    const closing = () => closingStep !== undefined;
    // Ctrl-C or a supervisor's SIGTERM to the process group also reaches esbuild's process: a
    // build cut short by the shutdown is no error. Its failure can come before this process has
    // handled the same signal, so it is judged a moment later.
    consoleFiles().catch((err: unknown) => {
      setTimeout(() => closing() || logger.error({ err }, 'web console could not be bundled'), 500).unref();
    });
    const http = serve({
      fetch: createApi(deps, {
        console: consoleFiles,
        events: bus,
        metrics: () => metrics.text(),
        token: env.LWMQN_API_TOKEN || undefined,
        problems: () => bridge.problems(),
      }).fetch,
      hostname: env.HTTP_HOST || '127.0.0.1',
      port: env.HTTP_PORT === '0' ? 0 : positiveInt(env, 'HTTP_PORT', 8080),
    });
    await new Promise<void>((ok, fail) => {
      if (http.listening) return ok();
      http.once('listening', ok);
      http.once('error', fail);
    });
    const { port } = http.address() as AddressInfo;
    const apiUrl = `http://${env.HTTP_HOST || '127.0.0.1'}:${port}`;
    logger.info({ apiUrl }, 'management API listening');

    // Ready now; the server's own notify path is exercised in the background (local/server-warmup.ts).
    let warming: Promise<unknown> = Promise.resolve();
    if (warmupNotifies > 0) {
      const started = Date.now();
      warming = warmUpServer(deps, { client: dynamo, doc, tableName }, warmupNotifies, closing).then(
        (notifies) => logger.info({ notifies, ms: Date.now() - started }, 'server warmed up'),
        (err: unknown) =>
          closing() || logger.warn({ err }, 'server warm-up skipped (only a head start: the server serves without it)'),
      );
    }

    let reaping: Promise<unknown> = Promise.resolve();
    const reaperInterval = positiveInt(env, 'LWMQN_REAPER_INTERVAL_MS', 1000);
    const reap = () => {
      // A run starts work for one interval (the next tick goes on where it stopped), and none
      // once the server is closing: shutdown waits for what was started, not for a whole pile.
      const until = Date.now() + reaperInterval;
      const run = reaper(deps, { timeLeftMs: () => (closing() ? 0 : until - Date.now()) });
      reaping = run.catch((err: unknown) => logger.error({ err }, 'reaper run failed'));
      return run;
    };
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void reap()
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, reaperInterval);

    return {
      deps,
      bridge,
      bus,
      mqttUrl,
      dynamoEndpoint,
      apiUrl,
      reap,
      closingStep: () => closingStep ?? 'nothing: not closing',
      close: async () => {
        clearInterval(timer);
        closingStep = 'the management API';
        const closed = new Promise<void>((ok) => http.close(() => ok()));
        // Event streams never end on their own; without this, shutdown waits for every `lwmqn events`.
        (http as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        await closed;
        closingStep = 'the reaper run in progress';
        await reaping;
        closingStep = 'the server warm-up';
        await warming;
        closingStep = 'the in-flight device messages (bridge)';
        await bridge.close();
        dynamo.destroy();
        closingStep = 'the embedded store and broker';
        await stopOwned();
        closingStep = 'nothing';
      },
    };
  } catch (err) {
    await stopOwned();
    throw err;
  }
}

/**
 * The bridge's broker account: LWMQN_BRIDGE_USERNAME, or `lwmqn-bridge` (the account
 * local/mosquitto/add-bridge.sh makes) when only a password is set; nothing when neither is.
 */
export function bridgeLogin(env: NodeJS.ProcessEnv): { username?: string; password?: string } {
  const password = env.LWMQN_BRIDGE_PASSWORD || undefined;
  const username = env.LWMQN_BRIDGE_USERNAME || (password !== undefined ? 'lwmqn-bridge' : undefined);
  return { username, password };
}

/** One line that says which setting to fix. */
function refusalMessage(err: BrokerRefusedError, username: string | undefined): string {
  if (!err.isLogin) return `${err.message}: check MQTT_URL`;
  const as =
    username === undefined ? 'without a username (LWMQN_BRIDGE_USERNAME and LWMQN_BRIDGE_PASSWORD are unset)' : `as '${username}'`;
  return (
    `the MQTT broker at ${err.url} refused the bridge's login ${as} (${err.reason}): ` +
    `set LWMQN_BRIDGE_USERNAME and LWMQN_BRIDGE_PASSWORD to the bridge's broker account ` +
    `(local/mosquitto/add-bridge.sh prints the password; docs/SECURITY.md)`
  );
}

/** LWMQN_STORE_WARMUP: also the notifies the server runs through its own handler once ready (0: none). */
function warmupSetting(env: NodeJS.ProcessEnv): number {
  const raw = env.LWMQN_STORE_WARMUP;
  if (raw === undefined || raw === '') return 2000;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`LWMQN_STORE_WARMUP must be a whole number of requests, 0 or more, not ${raw}`);
  return n;
}

/**
 * The device cache is right only when this process is the table's one writer: on by default
 * over the embedded store, off over a DYNAMODB_ENDPOINT that other servers or Lambdas may share.
 */
function deviceCacheSetting(env: NodeJS.ProcessEnv, embeddedStore: boolean): boolean {
  const raw = env.LWMQN_DEVICE_CACHE;
  if (raw === undefined || raw === '') return embeddedStore;
  if (raw !== 'on' && raw !== 'off') throw new Error(`LWMQN_DEVICE_CACHE must be on or off, not ${raw}`);
  return raw === 'on';
}
