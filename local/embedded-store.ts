import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { tableDefinition } from '../shared/store/table/definition';
import dynalite from 'dynalite';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { applyStorePatches } = require('./store-patches.cjs') as { applyStorePatches: () => void };

/** The embedded store of `npm start` when DYNAMODB_ENDPOINT is unset. */
export interface Running {
  url: string;
  close(): Promise<void>;
}

/** dynalite in memory in this process (the unit tests' store; `npm start` runs `startStoreThread`). */
export async function startMemoryStore(port = 0): Promise<Running> {
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
 * dynalite persisted under `dataDir`, in a worker thread of this process (local/store-thread.cjs):
 * its work runs on another core than the server's main thread, without a second Node process's
 * memory (docs/PERFORMANCE.md, "Memory"). It ends with the process, or when closed after the
 * server's other work has finished; `warmupRequests` run on a scratch copy before it serves.
 */
export async function startStoreThread(dataDir: string, warmupRequests: number): Promise<Running & { osThreadId?: number }> {
  const worker = new Worker(join(__dirname, 'store-thread.cjs'), {
    workerData: {
      path: join(dataDir, 'dynamodb'),
      port: 0,
      warmupRequests,
      // The warm-up's scratch table has the real table's layout (keys and indexes).
      warmupTable: tableDefinition('warmup'),
    },
    // Plain CommonJS: none of the TypeScript loader the server runs under. A server run with
    // --cpu-prof profiles its store thread too (bench/servers.ts, LWMQN_BENCH_PROFILE).
    execArgv: process.execArgv.filter((arg) => arg.startsWith('--cpu-prof')),
  });
  let ended = false;
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      ended = true;
      resolve();
    }),
  );
  // An error after start-up must not become an unhandled 'error' event that ends the server: the
  // store's calls then fail as with a store that is down, and the thread says why on stderr.
  worker.on('error', (err) => process.stderr.write(`lwmqn store: ${err.message}\n`));
  const ready = await new Promise<{ port: number; osThreadId?: number }>((resolve, reject) => {
    worker.once('message', (m: { port?: number; osThreadId?: number }) =>
      m?.port ? resolve({ port: m.port, osThreadId: m.osThreadId }) : reject(new Error('store sent no port')),
    );
    void exited.then(() => reject(new Error('the embedded store ended before it served')));
  });
  return {
    url: `http://127.0.0.1:${ready.port}`,
    osThreadId: ready.osThreadId,
    close: async () => {
      if (ended) return;
      worker.postMessage('close');
      await exited;
    },
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
