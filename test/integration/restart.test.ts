import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestDevice } from '../helpers/device';
import { registerDevice, sampleObjects, sampleObjectsStored } from '../helpers/integration';
import { startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';
import { eventually } from '../helpers/poll';
import { freePort } from '../helpers/ports';

/**
 * `npm start` as an operator runs it (embedded dynalite persisted
 * under LWMQN_DATA_DIR), stopped with SIGTERM and started again on the same data dir: the
 * registry survives, and what devices sent while it was down is handled after the restart.
 */
jest.setTimeout(90_000);

const ROOT = resolve(__dirname, '../..');
let broker: MosquittoProcess;
let dataDir: string;
const devices: TestDevice[] = [];
const running = new Set<Server>();

interface Server {
  child: ChildProcess;
  apiUrl: string;
  output: () => string;
  closed: Promise<void>;
}

beforeAll(async () => {
  broker = await startMosquitto();
  dataDir = mkdtempSync(join(tmpdir(), 'lwmqn-restart-'));
});

afterAll(async () => {
  for (const s of running) {
    try {
      process.kill(-s.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
  await broker?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Starts the server as its own process group and waits until GET /health answers. */
async function launch(overrides: NodeJS.ProcessEnv = {}): Promise<Server> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MQTT_URL: broker.url,
    LWMQN_DATA_DIR: dataDir,
    HTTP_PORT: String(port),
    LWMQN_BRIDGE_ID: `restart-bridge-${process.pid}`,
    LOG_LEVEL: 'info',
  };
  for (const k of ['DYNAMODB_ENDPOINT', 'TABLE_NAME', 'LWMQN_JOIN', 'LWMQN_REQUEST_TIMEOUT_MS', 'LWMQN_REAPER_INTERVAL_MS'])
    delete env[k];
  Object.assign(env, overrides);
  // detached: a group of its own (npm -> sh -> node -> store), signalled as a whole like a terminal does.
  const child = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  // 'close' comes once every process holding the pipes (the whole chain) has exited.
  const closed = new Promise<void>((ok) => child.once('close', () => ok()));
  const server: Server = { child, apiUrl: `http://127.0.0.1:${port}`, output: () => output, closed };
  running.add(server);
  let exited = false;
  void closed.then(() => (exited = true));
  await eventually(
    async () => {
      if (exited) throw new Error(`server exited during start:\n${output}`);
      const res = await fetch(`${server.apiUrl}/health`);
      expect(res.status).toBe(200);
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  ).catch((err) => {
    throw new Error(`server did not come up: ${(err as Error).message}\n${output}`);
  });
  return server;
}

/** SIGTERM to the group; resolves when every process of it has exited. */
async function stop(server: Server): Promise<void> {
  process.kill(-server.child.pid!, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    server.closed,
    new Promise((_, fail) => {
      timer = setTimeout(() => fail(new Error(`no exit 30 s after SIGTERM:\n${server.output()}`)), 30_000);
    }),
  ]).finally(() => clearTimeout(timer));
  running.delete(server);
}

const messages = (server: Server): string[] =>
  server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return String(JSON.parse(l).msg);
      } catch {
        return '';
      }
    });

async function get(server: Server, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.apiUrl}${path}`);
  return { status: res.status, body: await res.json() };
}

test('a registered device survives a SIGTERM and restart on the same data dir', async () => {
  const first = await launch();
  const dev = await TestDevice.connect(broker.url, 'restart-dev', { objects: sampleObjects() });
  devices.push(dev);
  expect(await registerDevice(dev, { transId: 11 })).toEqual({ transId: 11, status: 201 });
  expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 25 })).status).toBe(204);
  const before = await get(first, '/devices/restart-dev');
  expect(before.status).toBe(200);

  await stop(first);
  // On failure, the whole log says what the shutdown waited for.
  expect({ messages: messages(first), output: first.output() }).toMatchObject({
    messages: expect.arrayContaining(['shutting down: finishing in-flight messages', 'stopped']),
  });
  await expect(fetch(`${first.apiUrl}/health`)).rejects.toThrow();

  // While the server is down the device notifies at QoS 1; the broker keeps it for the bridge.
  await dev.publish('notify', { transId: 12, oid: 3303, iid: 0, rid: 5700, data: 26 });

  const second = await launch();
  const after = await get(second, '/devices/restart-dev');
  expect(after.status).toBe(200);
  expect(after.body).toMatchObject({
    clientId: 'restart-dev',
    joinTime: before.body.joinTime,
    mac: 'aa:bb:cc:00:00:01',
    lifetime: 600,
    objList: { '1': [0], '3': [0], '3303': [0, 1] },
  });
  expect((await get(second, '/devices')).body.map((d: { clientId: string }) => d.clientId)).toEqual(['restart-dev']);

  // The notify sent during the downtime is answered and stored after the restart.
  const late = await dev.waitFor((m) => m.topic === 'notify/response/restart-dev' && m.json?.transId === 12, {
    includePast: true,
    timeoutMs: 20_000,
  });
  expect(late.json).toEqual({ transId: 12, status: 204 });
  await eventually(async () => {
    const tree = (await get(second, '/devices/restart-dev/objects')).body;
    const expected = sampleObjectsStored() as any;
    expected['3303']['0']['5700'] = 26;
    expect(tree).toEqual(expected);
  });

  // And it serves the device as before.
  expect((await dev.call('ping', {})).status).toBe(200);
  expect((await registerDevice(dev, { transId: 13 })).status).toBe(200);

  await stop(second);
  expect(messages(second)).toContain('stopped');
});

test('SIGTERM stops the server even when the broker went away while it was publishing', async () => {
  // A broker of its own, to take away; and a data dir of its own.
  const lonely = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'lwmqn-restart-'));
  const pending = new AbortController();
  try {
    const server = await launch({ MQTT_URL: lonely.url, LWMQN_DATA_DIR: dir });
    const dev = await TestDevice.connect(lonely.url, 'restart-lonely', { objects: sampleObjects() });
    devices.push(dev);
    expect((await registerDevice(dev)).status).toBe(201);
    await dev.close();
    await lonely.stop();
    // DELETE removes the device, then publishes deregister/response and devLeaving, which can
    // reach no broker now: once the device is gone, that request is stuck in its publish.
    const deleting = fetch(`${server.apiUrl}/devices/restart-lonely`, { method: 'DELETE', signal: pending.signal }).catch(
      () => undefined,
    );
    await eventually(async () => expect((await get(server, '/devices/restart-lonely')).status).toBe(404));
    await stop(server);
    expect(messages(server)).toContain('shutting down: finishing in-flight messages');
    // The in-flight publish never gets its acknowledgement: the grace runs out, and the log
    // says what the shutdown was still waiting for.
    const gaveUp = server
      .output()
      .split('\n')
      .filter((l) => l.includes('shutdown did not finish'))
      .map((l) => JSON.parse(l));
    expect(gaveUp).toEqual([expect.objectContaining({ waitingFor: 'the in-flight device messages (bridge)' })]);
    expect(server.child.exitCode ?? server.child.signalCode).not.toBeNull();
    await expect(fetch(`${server.apiUrl}/health`)).rejects.toThrow();
    await deleting;
  } finally {
    pending.abort();
    await lonely.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
