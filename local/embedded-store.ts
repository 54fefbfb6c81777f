import { fork } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../shared/store/table/client';
import { tableDefinition } from '../shared/store/table/definition';

/** The embedded store of `npm start` when DYNAMODB_ENDPOINT is unset. */
export interface Running {
  url: string;
  close(): Promise<void>;
}

/** dynalite in memory in this process (the unit tests' store; `npm start` runs `startStoreProcess`). */
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
 * could see (docs/PERFORMANCE.md, "Memory"). The server sets it on itself (local/start.ts) and
 * starts its store process with it.
 */
export const HEAP_GROWTH_FLAG = '--heap-growing-percent=25';

/**
 * dynalite persisted under `dataDir`, in a child process (local/store-process.cjs): its work
 * runs on another core than the server's, and it exits when the server process goes away.
 * `warmupRequests` run on a scratch copy before it serves (LWMQN_STORE_WARMUP, checked by the
 * caller: local/stack.ts).
 */
export async function startStoreProcess(dataDir: string, warmupRequests: number): Promise<Running & { pid: number }> {
  const child = fork(join(__dirname, 'store-process.cjs'), [], {
    env: {
      ...process.env,
      LWMQN_STORE_PATH: join(dataDir, 'dynamodb'),
      LWMQN_STORE_WARMUP: String(warmupRequests),
      // The warm-up's scratch table has the real table's layout (keys and indexes).
      LWMQN_STORE_WARMUP_TABLE: JSON.stringify(tableDefinition('warmup')),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // Plain CommonJS: nothing to compile, no TypeScript loader (local/launch.cjs, for the server).
    // A server run with --cpu-prof profiles its store too (bench/servers.ts, LWMQN_BENCH_PROFILE).
    execArgv: [...process.execArgv.filter((arg) => arg.startsWith('--cpu-prof')), HEAP_GROWTH_FLAG],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port?: number }) => (m?.port ? resolve(m.port) : reject(new Error('store sent no port'))));
    child.once('exit', (code) => reject(new Error(`store process exited with ${code}`)));
  });
  child.removeAllListeners('exit');
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    close: () =>
      new Promise<void>((resolve) => {
        // A child ended by a signal has a signalCode and no exitCode.
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        // It ignores signals (local/store-process.cjs): the end of the channel is its cue.
        child.disconnect();
      }),
  };
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

/** The one client set-up for a store this process runs: the fixed signature, the trimmed stack. */
export function createEmbeddedStoreClient(endpoint: string): DynamoDBClient {
  const client = createDynamoClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    signer: embeddedStoreSigner,
  });
  trimForEmbeddedStore(client);
  return client;
}
