import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestDevice } from '../helpers/device';
import { registerDevice, sampleObjects } from '../helpers/integration';
import { startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';
import { eventually } from '../helpers/poll';
import { freePort } from '../helpers/ports';
import { startTestStore } from '../helpers/recorder';
import { CuttableProxy } from '../helpers/tcp-proxy';

/**
 * A graceful stop under load: the server (`node local/launch.cjs`, embedded store persisted under
 * LWMQN_DATA_DIR) gets SIGTERM while a burst of QoS 1 notifications is being handled. It must
 * exit 0, and after it is started again every notification ends up answered 204: the handlers
 * in flight finished (and were acknowledged) or were left unacknowledged and are delivered
 * again; none is lost, none is answered with another status.
 */
jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '../..');
/** Notifications published before the signal, and in all (the rest during the shutdown). */
const BEFORE_SIGNAL = 1500;
const TOTAL = 2000;
const ID = 'shutdown-dev';

let broker: MosquittoProcess;
let dataDir: string;
let env: NodeJS.ProcessEnv;
let device: TestDevice | undefined;
const cleanups: Array<() => Promise<void>> = [];
const running = new Set<Server>();

interface Server {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

beforeAll(async () => {
  broker = await startMosquitto();
  dataDir = mkdtempSync(join(tmpdir(), 'lwmqn-shutdown-'));
  env = {
    ...process.env,
    MQTT_URL: broker.url,
    LWMQN_DATA_DIR: dataDir,
    HTTP_PORT: String(await freePort()),
    LWMQN_BRIDGE_ID: `shutdown-bridge-${process.pid}-${Date.now()}`,
    LOG_LEVEL: 'info',
  };
  for (const k of ['DYNAMODB_ENDPOINT', 'TABLE_NAME', 'LWMQN_JOIN', 'LWMQN_API_TOKEN']) delete env[k];
});

afterAll(async () => {
  for (const s of running) {
    try {
      process.kill(-s.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await device?.close().catch(() => undefined);
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await broker?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const api = (path: string) => fetch(`http://127.0.0.1:${env.HTTP_PORT}${path}`);

/** Starts the server in a process group of its own and waits until GET /health answers 200. */
async function launch(extraEnv: NodeJS.ProcessEnv = {}): Promise<Server> {
  // node itself, as Docker runs it: the tsx wrapper's own signal relay is not what is under test.
  const child = spawn(process.execPath, ['local/launch.cjs'], {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('exit', (code, signal) => ok({ code, signal })),
  );
  const server: Server = { child, output: () => output, exited };
  running.add(server);
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`server exited during start with ${child.exitCode}:\n${output}`);
      expect((await api('/health')).status).toBe(200);
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  ).catch((err) => {
    throw new Error(`server did not come up: ${(err as Error).message}\n${output}`);
  });
  return server;
}

/** SIGTERM to the server's main process only, as a supervisor sends it; resolves with how it exited. */
async function terminate(server: Server): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  server.child.kill('SIGTERM');
  const exit = await Promise.race([
    server.exited,
    new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`no exit 30 s after SIGTERM:\n${server.output()}`)), 30_000)),
  ]);
  running.delete(server);
  return exit;
}

test(`SIGTERM during a burst of ${TOTAL} notifications: exit 0, and after a restart every one is answered 204`, async () => {
  const first = await launch();
  device = await TestDevice.connect(broker.url, ID, { objects: sampleObjects(), timeoutMs: 20_000 });
  (device.client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  expect((await registerDevice(device, { transId: 1 })).status).toBe(201);

  const answers = () => device!.received.filter((m) => m.topic === `notify/response/${ID}`).map((m) => m.json);
  const publish = async (from: number, to: number) => {
    for (let i = from; i <= to; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, to - i + 1) }, (_, k) =>
          device!.publish('notify', { transId: i + k, oid: 3303, iid: 0, rid: 5700, data: i + k }),
        ),
      );
    }
  };
  // A burst is with the broker; the bridge works through it in order...
  await publish(1, BEFORE_SIGNAL);
  await eventually(() => expect(answers().length).toBeGreaterThan(0), { timeoutMs: 30_000, intervalMs: 5 });

  // ...when SIGTERM comes, and the device goes on publishing during the shutdown.
  const atSignal = answers().length;
  const exiting = terminate(first);
  await publish(BEFORE_SIGNAL + 1, TOTAL);
  const exit = await exiting;
  const answeredBeforeExit = answers().length;
  expect(exit).toEqual({ code: 0, signal: null });
  expect(first.output()).toMatch(/"msg":"stopped"/);
  // The signal really came while handlers were in flight: the burst was not done.
  expect(atSignal).toBeLessThan(BEFORE_SIGNAL);

  const second = await launch();
  await eventually(
    () => {
      const answered = new Set(answers().map((a) => a.transId));
      expect(answered.size).toBe(TOTAL);
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  expect([...new Set(answers().map((a) => a.status))]).toEqual([204]);
  // Each notification was answered once, or twice when its handler had finished but the
  // acknowledgement had not reached the broker before the stop; never more.
  const perTransId = new Map<number, number>();
  for (const a of answers()) perTransId.set(a.transId, (perTransId.get(a.transId) ?? 0) + 1);
  expect(Math.max(...perTransId.values())).toBeLessThanOrEqual(2);

  const objects = (await (await api(`/devices/${ID}/objects`)).json()) as Record<string, Record<string, Record<string, unknown>>>;
  expect(objects['3303']['0']['5700']).toBe(TOTAL);
  const record = (await (await api(`/devices/${ID}`)).json()) as { clientId: string };
  expect(record.clientId).toBe(ID);

  // A calm stop exits 0 as well.
  expect(await terminate(second)).toEqual({ code: 0, signal: null });
  const redelivered = answers().length - TOTAL;
  console.log(
    `shutdown: SIGTERM after ${atSignal} answers (${BEFORE_SIGNAL} published, ${TOTAL - BEFORE_SIGNAL} more during the stop); ` +
      `${answeredBeforeExit} answered before the exit; after the restart all ${TOTAL} answered 204 ` +
      `(${redelivered} answered twice: handled, then redelivered because the stop came before the broker had the ack)`,
  );
});

test('SIGTERM while the store is unreachable and a handler is being retried: exit 0, and nothing is lost', async () => {
  // The server's store behind a proxy this test can cut (the embedded one lives in its process).
  const store = await startTestStore();
  const proxy = await CuttableProxy.start(Number(new URL(store.endpoint).port));
  cleanups.push(
    () => store.close(),
    () => proxy.close(),
  );
  const storeEnv = { DYNAMODB_ENDPOINT: proxy.url, TABLE_NAME: 'lwmqn_shutdown', LWMQN_BRIDGE_ID: `${env.LWMQN_BRIDGE_ID}-outage` };
  const first = await launch(storeEnv);
  const dev = await TestDevice.connect(broker.url, 'shutdown-outage', { objects: sampleObjects(), timeoutMs: 20_000 });
  cleanups.push(() => dev.close());
  expect((await registerDevice(dev, { transId: 1 })).status).toBe(201);

  await proxy.cut('refuse');
  const N = 10;
  for (let i = 1; i <= N; i++) await dev.publish('notify', { transId: 100 + i, oid: 3303, iid: 0, rid: 5700, data: i });
  // The first notification's handler failed against the store and is being retried.
  await eventually(() => expect(first.output()).toMatch(/"topic":"notify\/shutdown-outage".*"msg":"handler failed; retrying"/), {
    timeoutMs: 30_000,
  });

  const exit = await terminate(first);
  expect(exit).toEqual({ code: 0, signal: null });
  expect(first.output()).toMatch(/"msg":"stopped"/);
  const answers = () => dev.received.filter((m) => m.topic === 'notify/response/shutdown-outage').map((m) => m.json);
  expect(answers()).toEqual([]);

  // Store back, server started again: every notification is handled once, in order.
  await proxy.restore();
  const second = await launch(storeEnv);
  await eventually(() => expect(answers()).toHaveLength(N), { timeoutMs: 60_000, intervalMs: 100 });
  expect(answers()).toEqual(Array.from({ length: N }, (_, i) => ({ transId: 101 + i, status: 204 })));
  const objects = (await (await api('/devices/shutdown-outage/objects')).json()) as Record<
    string,
    Record<string, Record<string, unknown>>
  >;
  expect(objects['3303']['0']['5700']).toBe(N);
  expect(await terminate(second)).toEqual({ code: 0, signal: null });
});
