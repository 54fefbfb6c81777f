import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startStack, type Stack } from '../../local/stack';
import { TestDevice } from '../helpers/device';
import { CapturingLog, registerDevice, registerPayload, sampleObjects } from '../helpers/integration';
import { makeNode, nodeCall } from '../helpers/mqtt-node';
import { eventually } from '../helpers/poll';
import { startTestStore, type TestStore } from '../helpers/recorder';
import { brokerStartError, startBrokerProcess, type BrokerProcess } from '../helpers/embedded-broker';

/**
 * The embedded broker of `npm start` (local/embedded-broker.ts, aedes) confines clients as
 * local/mosquitto/acl does on Mosquitto (test/integration/broker-acl.test.ts proves that one):
 * a device publishes only on its own channels and hears only what is meant for it, the server
 * topics come from the bridge alone, the events reach only application accounts. Run with the
 * whole stack (bridge, handlers, API) on it, without accounts over plain MQTT, then with
 * accounts (written by the `lwmqn` CLI) over TLS.
 *
 * Unlike Mosquitto, aedes cannot drop a publish quietly: a forbidden publish closes the
 * connection before the message goes anywhere (no PUBACK). A refused subscription is
 * answered 0x80 in the SUBACK. Each "nothing happened" is checked after a barrier that orders
 * it, next to a positive control.
 */

const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, 'bin/lwmqn.js');

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
        // Who may read devNotify and devChange is checked too.
        LWMQN_EVENTS: 'all',
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
const SNOOPING = [
  '#',
  '+/response/+',
  '+/response/dev-b',
  'request/+',
  'request/dev-b',
  'notify/+',
  'response/+',
  'lwmqn/events/#',
  '$SYS/#',
  '+/+',
];

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

  test("it listens on loopback; a client id that is no LWMQN clientId, or the bridge's without its secret, is refused at CONNECT", async () => {
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

    // Barrier: dev-a's own ping goes through the same broker and bridge (one of dev-b's would
    // move its expiry).
    expect((await devA.call('ping', {})).status).toBe(200);
    await w.stack.bridge.idle();
    expect(w.bridgeSaw.slice(from)).toEqual(['ping/dev-a']);
    expect((await w.http('/devices/dev-b')).body).toEqual(recordBefore);
    expect((await w.http('/devices/dev-b/objects')).body).toEqual(objectsBefore);

    // Positive control: dev-b's own notify is stored.
    expect((await devB.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 22.5 })).status).toBe(204);
    expect((await w.http('/devices/dev-b/objects')).body['3303']['0']['5700']).toBe(22.5);

    // dev-b received its answer and the server's announce, nothing forged.
    const announced = devB.waitFor((m) => m.topic === 'announce');
    expect((await w.http('/announce', { message: 'barrier 1' })).status).toBe(200);
    await announced;
    expect(devB.received.slice(devBFrom).map((m) => [m.topic, m.payload.toString()])).toEqual([
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
    const w1 = await connect(url, {
      clientId: 'dev-m',
      will: { topic: 'lwt/dev-b', payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    w1.stream.destroy();
    const w2 = await connect(url, {
      clientId: 'dev-m2',
      will: { topic: 'lwt/dev-m2', payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    w2.stream.destroy();
    await eventually(() => expect(w.bridgeSaw.slice(from)).toEqual(['lwt/dev-m2']));
    await w.stack.bridge.idle();
    expect((await w.http('/devices/dev-b')).body.status).toBe('online');
  });
});

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, env: { ...process.env, LWMQN_USERS_FILE: '' } });
}

const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;

describe('with accounts (LWMQN_USERS_FILE, written by the CLI) over TLS', () => {
  let w: World;
  let usersFile: string;
  let ca: Buffer;
  let tlsUrl: string;
  const passwords: Record<string, string> = { 'dev-a': 'DevASecret0003', 'dev-m': 'DevMSecret0005', 'app-1': 'AppSecret0002' };
  let devA: TestDevice;
  let devB: TestDevice;
  let app: MqttClient;
  const appHeard: string[] = [];
  const tls = (user: string, extra: IClientOptions = {}): IClientOptions => ({
    clientId: user,
    username: user,
    password: passwords[user],
    ca,
    ...extra,
  });

  beforeAll(async () => {
    if (!HAVE_OPENSSL) throw new Error('openssl is not on the PATH: the TLS tests need it to make a self-signed certificate');
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(cert);

    usersFile = join(dir, 'users.json');
    expect(cli(['add-device', 'dev-a', '--password', passwords['dev-a'], '--users-file', usersFile]).status).toBe(0);
    expect(cli(['add-device', 'dev-m', '--password', '-', '--users-file', usersFile], `${passwords['dev-m']}\n`).status).toBe(0);
    const b = cli(['add-device', 'dev-b', '--users-file', usersFile]);
    expect(b.status).toBe(0);
    passwords['dev-b'] = /^password: (\S+)$/m.exec(b.stdout)![1];
    expect(cli(['add-app', 'app-1', '--password', passwords['app-1'], '--users-file', usersFile]).status).toBe(0);

    w = await startWorld({ LWMQN_USERS_FILE: usersFile, MQTT_TLS_CERT: cert, MQTT_TLS_KEY: key, MQTT_TLS_PORT: '0' });
    tlsUrl = w.broker.tlsUrl!;
    expect(tlsUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    app = await connect(tlsUrl, tls('app-1'));
    app.on('message', (topic) => appHeard.push(topic));
    expect((await app.subscribeAsync('lwmqn/events/#', { qos: 1 }))[0].qos).toBe(1);
    devA = await TestDevice.connect(tlsUrl, 'dev-a', { objects: sampleObjects(), mqttClientId: 'dev-a', connect: tls('dev-a') });
    devB = await TestDevice.connect(tlsUrl, 'dev-b', { objects: sampleObjects(), mqttClientId: 'dev-b', connect: tls('dev-b') });
  });

  afterAll(async () => {
    await devA?.close().catch(() => undefined);
    await devB?.close().catch(() => undefined);
    await w?.close();
  });

  afterEach(() => expect(w.log.errors()).toEqual([]));

  test('the CLI wrote the accounts file mode 0600, with scrypt hashes and no password in it', () => {
    expect(statSync(usersFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(usersFile, 'utf8');
    for (const p of Object.values(passwords)) expect(text).not.toContain(p);
    const file = JSON.parse(text);
    expect(Object.keys(file.accounts).sort()).toEqual(['app-1', 'dev-a', 'dev-b', 'dev-m']);
    expect(file.accounts['dev-a']).toEqual({
      kind: 'device',
      salt: expect.any(String),
      hash: expect.any(String),
      N: 16384,
      r: 8,
      p: 1,
    });
    expect(file.accounts['app-1'].kind).toBe('app');
    expect(file.accounts['dev-a'].salt).not.toBe(file.accounts['dev-b'].salt);
    // The bridge's name is not for accounts, nor is an invalid clientId.
    for (const bad of ['lwmqn-bridge', 'a/b', '']) expect(cli(['add-device', bad, '--users-file', usersFile]).status).toBe(1);
  });

  test('wrong or missing passwords, unknown users and a client id other than the username are refused; the right password gets in', async () => {
    expect(await refusedWith(tlsUrl, tls('dev-a', { password: 'wrong' }))).toBe(4);
    expect(await refusedWith(tlsUrl, tls('dev-a', { password: passwords['dev-b'] }))).toBe(4);
    expect(await refusedWith(tlsUrl, { clientId: 'dev-a', ca })).toBe(4);
    expect(await refusedWith(tlsUrl, tls('dev-z', { password: passwords['dev-a'] }))).toBe(4);
    expect(await refusedWith(tlsUrl, tls('dev-a', { clientId: 'dev-b' }))).toBe(2);
    expect(await refusedWith(tlsUrl, tls('lwmqn-bridge', { password: passwords['dev-a'] }))).toBe(5);
    // The plain listener asks for the same accounts.
    expect(await refusedWith(w.broker.url, { clientId: 'dev-a' })).toBe(4);
    const plain = await connect(w.broker.url, { clientId: 'dev-m', username: 'dev-m', password: passwords['dev-m'] });
    plain.end(true);
    // Positive control: the right logins are in, the refused ones disturbed no one.
    expect(devA.client.connected && devB.client.connected && app.connected).toBe(true);
    expect(w.stack.bridge.client.connected).toBe(true);
  });

  test('over TLS, devices register; another device can neither forge nor snoop; the app reads the events and only them', async () => {
    expect((await registerDevice(devA, { mac: 'AA:00:00:00:00:0A' })).status).toBe(201);
    expect((await registerDevice(devB, { mac: 'BB:00:00:00:00:0B' })).status).toBe(201);
    await eventually(() =>
      expect(appHeard).toEqual(expect.arrayContaining(['lwmqn/events/dev-a/devIncoming', 'lwmqn/events/dev-b/devIncoming'])),
    );
    const recordBefore = (await w.http('/devices/dev-b')).body;
    const from = w.bridgeSaw.length;
    const appFrom = appHeard.length;

    for (const [topic, payload] of FORGED) await publishRefused(tlsUrl, tls('dev-m'), topic, payload);
    // The app account publishes nothing, not even an event.
    await publishRefused(tlsUrl, tls('app-1'), 'lwmqn/events/dev-b/devLeaving', { type: 'devLeaving' });
    app = await connect(tlsUrl, tls('app-1'));
    app.on('message', (topic) => appHeard.push(topic));
    await app.subscribeAsync('lwmqn/events/#', { qos: 1 });

    const snoop = await connect(tlsUrl, tls('dev-m'));
    const heard: string[] = [];
    snoop.on('message', (topic) => heard.push(topic));
    expect(await subacks(snoop, SNOOPING)).toEqual(SNOOPING.map(() => 128));
    // An application may not read device topics either.
    expect(await subacks(app, ['request/+', '#', 'announce', 'lwmqn/#', 'lwmqn/events/+/devNotify'])).toEqual([
      128, 128, 128, 128, 1,
    ]);

    // dev-b's real traffic flows meanwhile.
    expect((await w.http('/devices/dev-b/read', { path: '3303/0' })).body).toEqual({
      status: 205,
      data: { sensorValue: 21.5, units: 'C' },
    });
    expect((await devB.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 23 })).status).toBe(204);
    await w.stack.bridge.idle();
    await eventually(() => expect(appHeard.slice(appFrom)).toEqual(expect.arrayContaining(['lwmqn/events/dev-b/devNotify'])));

    expect(w.bridgeSaw.slice(from).filter((t) => !t.endsWith('/dev-b'))).toEqual([]);
    expect(w.bridgeSaw.slice(from)).toEqual(['response/dev-b', 'notify/dev-b']);
    // Nothing forged landed: dev-b is online at its own ip, its value is its own 23, not 99.
    const { status, ip, mac, lifetime, joinTime } = recordBefore;
    expect((await w.http('/devices/dev-b')).body).toMatchObject({ status, ip, mac, lifetime, joinTime });
    expect((await w.http('/devices/dev-b/objects')).body['3303']['0']['5700']).toBe(23);
    expect(appHeard.slice(appFrom).filter((t) => t.includes('devLeaving'))).toEqual([]);
    expect(heard).toEqual([]);
    snoop.end(true);
  });

  test('an account added by the CLI while the broker runs works at its next connect', async () => {
    const added = cli(['add-device', 'dev-n', '--users-file', usersFile]);
    expect(added.status).toBe(0);
    const password = /^password: (\S+)$/m.exec(added.stdout)![1];
    const devN = await TestDevice.connect(tlsUrl, 'dev-n', {
      objects: sampleObjects(),
      mqttClientId: 'dev-n',
      connect: { username: 'dev-n', password, ca },
    });
    try {
      expect((await registerDevice(devN, { mac: 'CC:00:00:00:00:0C' })).status).toBe(201);
    } finally {
      await devN.close();
    }
  });
});

describe('settings that cannot work fail at start, in one line naming the setting', () => {
  test.each([
    [{ MQTT_TLS_CERT: '/x/cert.pem' }, /^MQTT_TLS_CERT is set but MQTT_TLS_KEY is not/],
    [{ MQTT_TLS_KEY: '/x/key.pem' }, /^MQTT_TLS_KEY is set but MQTT_TLS_CERT is not/],
    [
      { MQTT_TLS_CERT: '/nonexistent/cert.pem', MQTT_TLS_KEY: '/nonexistent/key.pem' },
      /^MQTT_TLS_CERT: cannot read \/nonexistent\/cert.pem \(ENOENT\)$/,
    ],
    [{ MQTT_TLS_PORT: 'x', MQTT_TLS_CERT: 'a', MQTT_TLS_KEY: 'b' }, /^MQTT_TLS_PORT must be a port number/],
    [{ LWMQN_USERS_FILE: '/nonexistent/users.json' }, /^LWMQN_USERS_FILE: cannot read \/nonexistent\/users.json \(ENOENT\)$/],
  ])('%j', async (env, message) => {
    const error = await brokerStartError(env);
    expect(error).toMatch(message);
    expect(error).not.toContain('\n');
  });

  test('a file that is no PEM certificate and key, and a users file that is not one', async () => {
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'not a certificate\n');
    expect(await brokerStartError({ MQTT_TLS_CERT: notPem, MQTT_TLS_KEY: notPem })).toMatch(
      /^MQTT_TLS_CERT, MQTT_TLS_KEY: .* are not a PEM certificate and its private key/,
    );
    expect(await brokerStartError({ LWMQN_USERS_FILE: notPem })).toMatch(/^LWMQN_USERS_FILE: .* is not JSON$/);
  });
});

test('reachable from the network without accounts, it says so at start', async () => {
  const open = await startBrokerProcess({ MQTT_HOST: '0.0.0.0' });
  try {
    await eventually(() =>
      expect(open.logged).toContainEqual(
        expect.objectContaining({ level: 'warn', hosts: ['0.0.0.0'], msg: expect.stringContaining('any client can claim') }),
      ),
    );
  } finally {
    await open.stop();
  }
  const local = await startBrokerProcess({});
  await local.stop();
  expect(local.logged).toEqual([]);
});

/** `npm start` itself (local/start.ts in its own process): its stack wires broker and bridge. */
function npmStart(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  ready: Promise<{ mqtt: string; api: string }>;
  stderr: () => string;
} {
  // What `npm start` runs (package.json): node local/launch.cjs.
  const child = spawn(process.execPath, [join(ROOT, 'local/launch.cjs')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HTTP_PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const ready = new Promise<{ mqtt: string; api: string }>((ok, fail) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
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

  test('a TLS setting that cannot work stops it with one line naming the setting', async () => {
    const server = npmStart({ DYNAMODB_ENDPOINT: store.endpoint, MQTT_TLS_CERT: join(dir, 'cert-only.pem') });
    await expect(server.ready).rejects.toThrow(/exited 1/);
    expect(server.stderr()).toBe(
      'lwmqn: could not start: MQTT_TLS_CERT is set but MQTT_TLS_KEY is not: set both (PEM files) or neither\n',
    );
  });
});
