import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { MessageChannel, Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEFAULT_CALL_BUDGET_MS } from '../shared/call-budget';
import { createDynamoClient } from '../shared/store/table/client';
import { tableDefinition } from '../shared/store/table/definition';
import { StoreChannelHandler } from './store-channel';

/** The embedded store of `npm start` when DYNAMODB_ENDPOINT is unset. */
export interface Running {
  url: string;
  close(): Promise<void>;
}

/** dynalite in memory in this process (the unit tests' store; `npm start` runs `startStoreThread`). */
export async function startMemoryStore(port = 0): Promise<Running> {
  // Loaded here, not at the top: the server of `npm start` never runs dynalite itself and should
  // not carry its code (docs/PERFORMANCE.md, "A lighter start").
  /* eslint-disable @typescript-eslint/no-require-imports */
  const dynalite = require('dynalite') as (typeof import('dynalite'))['default'];
  const { applyStorePatches } = require('./store-patches.cjs') as { applyStorePatches: () => void };
  /* eslint-enable @typescript-eslint/no-require-imports */
  // The same store as `npm start` runs: every test against dynalite runs through these.
  applyStorePatches();
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }) as unknown as Server;
  await listen(server, '127.0.0.1', port);
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * V8 lets the old space grow to up to four times what is live before it collects it again: under
 * 2,000 notifying devices the server held about 490 MiB for about 125 live (bench/memory.ts).
 * Growing by a quarter of what is live keeps it near what is live, at no CPU cost the benchmarks
 * could see (docs/PERFORMANCE.md, "Memory"). The server sets it on itself (local/start.ts); a V8
 * flag holds for every thread of the process, its store's included.
 */
export const HEAP_GROWTH_FLAG = '--heap-growing-percent=25';

/**
 * The store thread's young generation: 24 MiB, semi-spaces of 8 MiB instead of V8's 16. Under
 * load V8 grows them to the limit, and with 2,000 devices notifying most of that held no live
 * object. The server's main thread has 4 MiB ones (`--max-semi-space-size=4` on its command
 * line: package.json's start script, the Dockerfile). At 4 MiB here the threads other than the
 * main one spent a fifth more CPU per notify, and 8 held no more memory than 4 (docs/PERFORMANCE.md,
 * "The store in a thread").
 */
const STORE_THREAD_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 24 };

/**
 * dynalite persisted under `dataDir`, in a worker thread of this process (local/store-thread.cjs):
 * its work runs on another core than the server's main thread, and it ends with this process.
 * `warmupRequests` run on a scratch copy before it serves (LWMQN_STORE_WARMUP, checked by the
 * caller: local/stack.ts).
 */
export async function startStoreThread(dataDir: string, warmupRequests: number): Promise<Running & { channel: MessagePort }> {
  // The server's own requests go over this channel (local/store-channel.ts), not over HTTP.
  const { port1: channel, port2: theirs } = new MessageChannel();
  const worker = new Worker(join(__dirname, 'store-thread.cjs'), {
    transferList: [theirs],
    workerData: {
      channel: theirs,
      path: join(dataDir, 'dynamodb'),
      warmupRequests,
      // The warm-up's scratch table has the real table's layout (keys and indexes).
      warmupTable: tableDefinition('warmup'),
    },
    // Plain CommonJS: nothing to compile, no TypeScript loader (local/launch.cjs, for the server).
    // Node's own flags only: a server run with --cpu-prof profiles its store too (bench/servers.ts).
    execArgv: process.execArgv.filter((arg) => arg.startsWith('--cpu-prof')),
    resourceLimits: STORE_THREAD_LIMITS,
  });
  const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { port?: number; error?: string }) =>
        m?.port ? resolve(m.port) : reject(new Error(m?.error ?? 'store sent no port')),
      );
      worker.once('error', reject);
      void ended.then(() => reject(new Error('store thread ended before it served')));
    });
    // Afterwards, a store that fails is said once, as a store process's crash was on its stderr;
    // the server stays up and degraded (GET /health 503): its calls fail as refused connections.
    worker.removeAllListeners('error');
    worker.on('error', (err) => process.stderr.write(`lwmqn store: the store thread failed: ${err.stack ?? err.message}\n`));
    return {
      url: `http://127.0.0.1:${port}`,
      channel,
      // Every answer was sent after its write landed in LevelDB: nothing is pending there, and
      // LevelDB is closed as the thread ends (classic-level's clean-up hook).
      close: async () => {
        await worker.terminate();
        await ended;
      },
    };
  } catch (err) {
    await worker.terminate();
    throw err;
  }
}

/**
 * The embedded store checks that a request carries a SigV4-shaped Authorization header, never
 * the signature itself; so the client sends a fixed one instead of computing an HMAC chain per
 * request (a fifth of the SDK's time on the notify path). Only for the store this process runs.
 */
export const embeddedStoreSigner = {
  sign: async <R extends { headers: Record<string, string> }>(request: R): Promise<R> => {
    request.headers.authorization =
      'AWS4-HMAC-SHA256 Credential=local/19700101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0';
    request.headers['x-amz-date'] = '19700101T000000Z';
    return request;
  },
};

/**
 * Client middleware that does nothing the embedded store needs, on every call: the user agent
 * (built and escaped per request), the recursion-detection header (Lambda's trace id), the SDK's
 * logging of each call (no logger is configured), and the Host and Content-Length headers (Node's
 * HTTP client sets both itself). Measured in docs/PERFORMANCE.md, "The SDK's own work per call".
 */
const NOT_FOR_THE_EMBEDDED_STORE = [
  'getUserAgentMiddleware',
  'recursionDetectionMiddleware',
  'loggerMiddleware',
  'hostHeaderMiddleware',
  'contentLengthMiddleware',
] as const;

/**
 * Takes that middleware out of a client of the store this process runs, before its first call.
 * Returns the names it found: all of them with the SDK in package-lock.json
 * (test/integration/document-client.test.ts), so an SDK that renames one fails a test, not a start.
 */
export function trimForEmbeddedStore(client: { middlewareStack: { remove(name: string): boolean } }): string[] {
  return NOT_FOR_THE_EMBEDDED_STORE.filter((name) => client.middlewareStack.remove(name));
}

/**
 * The one client set-up for a store this process runs: the fixed signature, the trimmed stack,
 * and, given the store thread's `channel`, its requests over that instead of HTTP to `endpoint`.
 */
export function createEmbeddedStoreClient(endpoint: string, channel?: MessagePort): DynamoDBClient {
  const client = createDynamoClient(
    {
      endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      signer: embeddedStoreSigner,
    },
    DEFAULT_CALL_BUDGET_MS,
    channel && ((attemptTimeoutMs) => new StoreChannelHandler(channel, attemptTimeoutMs)),
  );
  trimForEmbeddedStore(client);
  return client;
}
