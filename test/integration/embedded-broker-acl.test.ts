import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startStack, type Stack } from '../../local/stack';
import { TestDevice } from '../helpers/device';
import { CapturingLog, registerDevice, registerPayload, sampleObjects } from '../helpers/integration';
import { makeNode, nodeCall } from '../helpers/mqtt-node';
import { eventually } from '../helpers/poll';
import { startTestStore, type TestStore } from '../helpers/recorder';
import { startBrokerProcess, type BrokerProcess } from '../helpers/embedded-broker';

/**
 * The embedded broker of `npm start` (local/embedded-broker.ts, aedes) confines clients as
 * local/mosquitto/acl does on Mosquitto (test/integration/broker-acl.test.ts proves that one):
 * a device publishes only on its own channels and hears only what is meant for it, the server
 * topics come from the bridge alone, no device reads the events. Run with the whole stack
 * (bridge, handlers, API) on it.
 *
 * Unlike Mosquitto, aedes cannot drop a publish quietly: a forbidden publish closes the
 * connection before the message goes anywhere (no PUBACK). A refused subscription is
 * answered 0x80 in the SUBACK. Each "nothing happened" is checked after a barrier that orders
 * it, next to a positive control.
 */

const ROOT = resolve(__dirname, '../..');

let store: TestStore;
let dir: string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  store = await startTestStore();
  dir = mkdtempSync(join(tmpdir(), 'lwmqn-embedded-acl-'));
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await store?.close().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The embedded broker (in its own process), a stack bridged to it, what the bridge received. */
interface World {
  broker: BrokerProcess;
  stack: Stack;
  log: CapturingLog;
  bridgeSaw: string[];
  http(path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

let tables = 0;
async function startWorld(brokerEnv: NodeJS.ProcessEnv): Promise<World> {
  const log = new CapturingLog();
  const broker = await startBrokerProcess(brokerEnv);
  let stack: Stack;
  try {
    // As local/stack.ts does with its own embedded broker: the bridge logs in with the secret
    // the broker made at its start.
    stack = await startStack(
      {
        ...broker.bridgeEnv,
        DYNAMODB_ENDPOINT: store.endpoint,
        TABLE_NAME: `lwmqn_embedded_${++tables}`,
        HTTP_PORT: '0',
        LWMQN_REQUEST_TIMEOUT_MS: '3000',
      },
      log,
    );
  } catch (err) {
    await broker.stop();
    throw err;
  }
  const bridgeSaw: string[] = [];
  stack.bridge.client.on('message', (topic) => bridgeSaw.push(topic));
  return {
    broker,
    stack,
    log,
    bridgeSaw,
    http: async (path, body) => {
      const res = await fetch(`${stack.apiUrl}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    close: async () => {
      await stack.close();
      await broker.stop();
      // Nothing the broker logged is an error (refusals are warnings).
      expect(broker.logged.filter((l) => l.level === 'error')).toEqual([]);
    },
  };
}

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  clients.push(client);
  return client;
}

/** The CONNACK return code of a refused CONNECT (fails when the broker lets the client in). */
async function refusedWith(url: string, options: IClientOptions): Promise<number> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  clients.push(client);
  return new Promise((resolve, reject) => {
    client.once('connect', () => reject(new Error(`${options.clientId} was let in`)));
    client.once('error', (err) => resolve((err as { code?: number }).code ?? -1));
  });
}

/** The SUBACK code of each filter, one SUBSCRIBE each (MQTT.js rejects a SUBACK that refuses any). */
async function subacks(client: MqttClient, filters: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const f of filters) {
    out.push(
      await client.subscribeAsync(f, { qos: 1 }).then(
        (g) => g[0].qos,
        (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1,
      ),
    );
  }
  return out;
}

/**
 * Connects as `clientId`, publishes QoS 1 on `topic` and expects the broker to close the
 * connection without a PUBACK: the message went nowhere.
 */
async function publishRefused(url: string, options: IClientOptions, topic: string, payload: unknown): Promise<void> {
  const client = await connect(url, options);
  const closed = new Promise<void>((ok) => client.once('close', () => ok()));
  let acked = false;
  client.publish(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 }, (err) => {
    if (!err) acked = true;
  });
  await closed;
  client.end(true);
  expect({ topic, acked }).toEqual({ topic, acked: false });
}

/** Every forged message of the Mosquitto suite: dev-b's channels, then what the server sends. */
const FORGED: Array<[string, unknown]> = [
  ['notify/dev-b', { transId: 62, oid: 3303, iid: 0, rid: 5700, data: 99 }],
  ['update/dev-b', { transId: 63, ip: '10.6.6.6' }],
  ['schedule/dev-b', { transId: 64, sleep: true }],
  ['lwt/dev-b', 'offline'],
  ['response/dev-b', { transId: 1, cmdId: 0, status: 205, data: {} }],
  ['ping/dev-b', { transId: 65 }],
  ['register/dev-b', { transId: 61, ...registerPayload({ mac: 'AA:00:00:00:00:0A' }) }],
  ['deregister/dev-b', { transId: 66 }],
  ['request/dev-b', { transId: 7, cmdId: 4, oid: 3, iid: 0, rid: 4, data: [] }],
  ['register/response/dev-b', { transId: 1, status: 409 }],
  ['notify/response/dev-b', { transId: 62, status: 204 }],
  ['announce', 'forged announce'],
  ['lwmqn/events/dev-b/devLeaving', { type: 'devLeaving', clientId: 'dev-b', data: 'forged', timestamp: 1 }],
  ['$SYS/forged', 'x'],
];

/** Wildcards and other devices' topics: all refused to a device (0x80), its own topics granted. */
const SNOOPING = ['#', '+/response/+', '+/response/dev-b', 'request/+', 'request/dev-b', 'notify/+', 'response/+', 'lwmqn/events/#', '$SYS/#', '+/+'];

describe('without accounts (the default of npm start)', () => {
  let w: World;
  let devA: TestDevice;
  let devB: TestDevice;
  let url: string;
  let bridgeCloses = 0;

  beforeAll(async () => {
    w = await startWorld({});
    url = w.broker.url;
    w.stack.bridge.client.on('close', () => bridgeCloses++);
    devA = await TestDevice.connect(url, 'dev-a', { objects: sampleObjects(), mqttClientId: 'dev-a' });
    devB = await TestDevice.connect(url, 'dev-b', { objects: sampleObjects(), mqttClientId: 'dev-b' });
    await devB.client.subscribeAsync('announce', { qos: 1 });
    expect((await registerDevice(devA, { mac: 'AA:00:00:00:00:0A' })).status).toBe(201);
    expect((await registerDevice(devB, { mac: 'BB:00:00:00:00:0B' })).status).toBe(201);
  });

  afterAll(async () => {
    await devA?.close().catch(() => undefined);
    await devB?.close().catch(() => undefined);
    await w?.close();
  });

  afterEach(() => expect(w.log.errors()).toEqual([]));

  test('it listens on loopback; a client id that is no LWMQN clientId, or the bridge\'s without its secret, is refused at CONNECT', async () => {
    expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    for (const clientId of ['', 'a/b', 'a+b', 'a#', 'x'.repeat(129), 'a\u0001b']) {
      expect({ clientId, code: await refusedWith(url, { clientId, clean: true }) }).toEqual({ clientId, code: 2 });
    }
    // The bridge's id: refused without the per-start secret, whatever login is tried, and the
    // real bridge keeps its connection (aedes would otherwise hand the session over).
    expect(await refusedWith(url, { clientId: 'lwmqn-bridge' })).toBe(5);
    expect(await refusedWith(url, { clientId: 'lwmqn-bridge', username: 'lwmqn-bridge', password: 'guess' })).toBe(5);
    expect(w.stack.bridge.client.connected).toBe(true);
    expect(bridgeCloses).toBe(0);
    // Positive control: a valid clientId gets in (as that device).
    const ok = await connect(url, { clientId: 'dev-z' });
    expect(ok.connected).toBe(true);
    ok.end(true);
  });

  test("another device cannot publish on dev-b's channels nor forge what the server sends: each try ends its connection, dev-b is untouched", async () => {
    const recordBefore = (await w.http('/devices/dev-b')).body;
    const objectsBefore = (await w.http('/devices/dev-b/objects')).body;
    expect(recordBefore.status).toBe('online');
    const from = w.bridgeSaw.length;
    const devBFrom = devB.received.length;
    const devBRequests = devB.requests.length;
    const events: string[] = [];
    const off = w.stack.bus.subscribe((e) => events.push(`${e.clientId}/${e.type}`));

    for (const [topic, payload] of FORGED) await publishRefused(url, { clientId: 'dev-m' }, topic, payload);
    // A device's own connection (dev-a, registered) is no different.
    await publishRefused(url, { clientId: 'dev-a' }, 'deregister/dev-b', { transId: 67 });
    devA = await TestDevice.connect(url, 'dev-a', { objects: sampleObjects(), mqttClientId: 'dev-a' });

    // Barrier: dev-b's own ping goes through the same broker and bridge.
    expect((await devB.call('ping', {})).status).toBe(200);
    await w.stack.bridge.idle();
    expect(w.bridgeSaw.slice(from)).toEqual(['ping/dev-b']);
    expect((await w.http('/devices/dev-b')).body).toEqual(recordBefore);
    expect((await w.http('/devices/dev-b/objects')).body).toEqual(objectsBefore);

    // Positive control: dev-b's own notify is stored.
    expect((await devB.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 22.5 })).status).toBe(204);
    expect((await w.http('/devices/dev-b/objects')).body['3303']['0']['5700']).toBe(22.5);

    // dev-b received its two answers and the server's announce, nothing forged.
    const announced = devB.waitFor((m) => m.topic === 'announce');
    expect((await w.http('/announce', { message: 'barrier 1' })).status).toBe(200);
    await announced;
    expect(devB.received.slice(devBFrom).map((m) => [m.topic, m.payload.toString()])).toEqual([
      ['ping/response/dev-b', expect.stringContaining('"status":200')],
      ['notify/response/dev-b', expect.stringContaining('"status":204')],
      ['announce', 'barrier 1'],
    ]);
    expect(devB.requests.length).toBe(devBRequests);
    off();
    expect(events.filter((e) => e.startsWith('dev-b/') && !['dev-b/devNotify', 'dev-b/devChange'].includes(e))).toEqual([]);
  });

  test("a device cannot read dev-b's requests, answers or events: wildcards and others' topics are refused (0x80), its own are granted", async () => {
    const snoop = await connect(url, { clientId: 'dev-m' });
    const heard: string[] = [];
    snoop.on('message', (topic) => heard.push(topic));
    const filters = [...SNOOPING, 'request/dev-m', 'ping/response/dev-m', 'announce'];
    const codes = await subacks(snoop, filters);
    expect(filters.map((f, i) => [f, codes[i]])).toEqual([
      ...SNOOPING.map((t) => [t, 128]),
      ['request/dev-m', 1],
      ['ping/response/dev-m', 1],
      ['announce', 1],
    ]);

    // dev-b's traffic: a command from the API (request/dev-b out, response/dev-b back), its
    // own publications and their answers, the events the server emits for them.
    const devBRequests = devB.requests.length;
    const read = await w.http('/devices/dev-b/read', { path: '3303/0' });
    expect(read).toEqual({ status: 200, body: { status: 205, data: { sensorValue: expect.any(Number), units: 'C' } } });
    expect(devB.requests.length).toBe(devBRequests + 1);
    expect((await devB.call('ping', {})).status).toBe(200);
    expect((await devB.call('notify', { oid: 3303, iid: 1, rid: 5700, data: 18 })).status).toBe(204);

    // Barrier and positive control: the snoop does receive the broadcast, and only that.
    const got = new Promise<void>((ok) => snoop.on('message', (t, p) => t === 'announce' && p.toString() === 'barrier 2' && ok()));
    expect((await w.http('/announce', { message: 'barrier 2' })).status).toBe(200);
    await got;
    expect(heard).toEqual(['announce']);
    snoop.end(true);
  });

  test("a will on lwt/dev-b is dropped; a device's will on its own lwt takes it offline", async () => {
    const from = w.bridgeSaw.length;
    const w1 = await connect(url, { clientId: 'dev-m', will: { topic: 'lwt/dev-b', payload: Buffer.from('gone'), qos: 1, retain: false } });
    w1.stream.destroy();
    const w2 = await connect(url, { clientId: 'dev-m2', will: { topic: 'lwt/dev-m2', payload: Buffer.from('gone'), qos: 1, retain: false } });
    w2.stream.destroy();
    await eventually(() => expect(w.bridgeSaw.slice(from)).toEqual(['lwt/dev-m2']));
    await w.stack.bridge.idle();
    expect((await w.http('/devices/dev-b')).body.status).toBe('online');
  });
});

test('reachable from the network without accounts, it says so at start', async () => {
  const open = await startBrokerProcess({ MQTT_HOST: '0.0.0.0' });
  try {
    await eventually(() =>
      expect(open.logged).toContainEqual(expect.objectContaining({ level: 'warn', hosts: ['0.0.0.0'], msg: expect.stringContaining('any client can claim') })),
    );
  } finally {
    await open.stop();
  }
  const local = await startBrokerProcess({});
  await local.stop();
  expect(local.logged).toEqual([]);
});

/** `npm start` itself (local/start.ts in its own process): its stack wires broker and bridge. */
function npmStart(env: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<{ mqtt: string; api: string }>; stderr: () => string } {
  // What `npm start` runs: tsx local/start.ts.
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'local/start.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HTTP_PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const ready = new Promise<{ mqtt: string; api: string }>((ok, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line);
      if (entry.msg === 'LWMQN server ready') ok(entry);
    });
    child.once('exit', (code) => fail(new Error(`exited ${code}: ${err}`)));
  });
  return { child, ready, stderr: () => err };
}

describe('npm start', () => {
  test('with the embedded broker, a real mqtt-node device registers, notifies and deregisters (the bridge got in with its secret)', async () => {
    const server = npmStart({ DYNAMODB_ENDPOINT: store.endpoint, TABLE_NAME: 'lwmqn_embedded_npm_start' });
    const n = makeNode('mqtt-node-1');
    try {
      const { mqtt: url, api } = await server.ready;
      expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
      const get = async (path: string) => {
        const res = await fetch(`${api}${path}`);
        return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
      };
      expect((await n.connect(url)).status).toBe(201);
      expect((await get('/devices/mqtt-node-1')).body).toMatchObject({ clientId: 'mqtt-node-1', status: 'online' });
      expect((await nodeCall((cb) => n.node.notify({ oid: 3303, iid: 0, rid: 5700, data: 30.25 }, cb))).status).toBe(204);
      expect((await get('/devices/mqtt-node-1/objects')).body['3303']['0']['5700']).toBe(30.25);
      expect((await nodeCall((cb) => n.node.deregister(cb))).status).toBe(202);
      expect((await get('/devices/mqtt-node-1')).status).toBe(404);
    } finally {
      await n.close().catch(() => undefined);
      const exited = new Promise((ok) => server.child.once('exit', ok));
      server.child.kill('SIGTERM');
      await exited;
    }
  });
});
