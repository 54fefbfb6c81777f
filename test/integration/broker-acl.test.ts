import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startStack, type Stack } from '../../local/stack';
import { TestDevice, type Received } from '../helpers/device';
import { CapturingLog, EventWatcher, registerDevice, registerPayload, sampleObjects } from '../helpers/integration';
import { startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';
import { eventually } from '../helpers/poll';
import { startTestStore, type TestStore } from '../helpers/recorder';

/**
 * The committed broker configuration (local/mosquitto/: mosquitto.conf, acl, the account
 * scripts) on a real Mosquitto, with the real stack bridged to it: accounts are enforced, and a
 * device can neither speak for another device nor hear what is meant for it.
 *
 * Mosquitto never says no to a client that breaks the ACL: a denied publish is dropped (an
 * MQTT 3.1.1 client still gets its PUBACK) and a denied subscription is granted but delivers
 * nothing. So every "nothing happened" below is checked after a barrier that orders it (a
 * later message on the same path that did arrive) and next to a positive control (the same
 * action by the legitimate account works).
 */

const CONF_DIR = resolve(__dirname, '../../local/mosquitto');
const SCRIPT_ENV_BASE = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

const PASSWORDS = {
  'lwmqn-bridge': 'BridgeSecret0001',
  'lwmqn-app': 'AppSecret0002',
  'dev-a': 'DevASecret0003',
  'dev-b': 'DevBSecret0004',
} as const;
type Account = keyof typeof PASSWORDS;

/**
 * mosquitto.conf as committed, minus what the test harness sets itself (listener, persistence),
 * with the container paths of the password and ACL files pointed at the test's copies.
 */
function committedConfig(passwdFile: string, aclFile: string): string[] {
  const lines = readFileSync(join(CONF_DIR, 'mosquitto.conf'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const value = (key: string) => lines.filter((l) => l.split(/\s+/)[0] === key).map((l) => l.slice(key.length).trim());
  // The settings this suite is about, as docker-compose mounts them.
  expect(value('allow_anonymous')).toEqual(['false']);
  expect(value('use_username_as_clientid')).toEqual(['true']);
  expect(value('password_file')).toEqual(['/mosquitto/config/passwd']);
  expect(value('acl_file')).toEqual(['/mosquitto/config/acl']);
  const harness = new Set(['listener', 'persistence', 'persistence_location', 'persistence_file', 'autosave_interval']);
  return lines
    .filter((l) => !harness.has(l.split(/\s+/)[0]))
    .map((l) => l.replace('/mosquitto/config/passwd', passwdFile).replace('/mosquitto/config/acl', aclFile));
}

let dir: string;
let passwdFile: string;
let mosquitto: MosquittoProcess;
let store: TestStore;
let stack: Stack;
let app: EventWatcher;
const log = new CapturingLog();
/** Every topic the server's bridge received, in order. */
const bridgeSaw: string[] = [];
const extraClients: MqttClient[] = [];

let devA: TestDevice;
let devB: TestDevice;
let devBCloses = 0;

function url(account?: string, password?: string): string {
  const auth = account === undefined ? '' : `${encodeURIComponent(account)}:${encodeURIComponent(password ?? '')}@`;
  return `mqtt://${auth}127.0.0.1:${mosquitto.port}`;
}
const urlOf = (account: Account) => url(account, PASSWORDS[account]);

async function connect(account: string, password: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url(account, password), { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  extraClients.push(client);
  return client;
}

/** Runs a script of local/mosquitto/ against the test's password file. */
function script(name: string, args: string[]) {
  return spawnSync(join(CONF_DIR, name), args, {
    env: { ...SCRIPT_ENV_BASE, LWMQN_PASSWD_FILE: passwdFile },
    encoding: 'utf8',
  });
}

async function http(path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * After this, every message `dev` published before it has been through the broker and (if the
 * broker let it through) through the server: the broker handles one client's packets in order
 * and forwards them to the bridge in order, and the bridge runs everything it has received.
 */
async function barrierThrough(dev: TestDevice): Promise<void> {
  expect((await dev.call('ping', {})).status).toBe(200);
  await stack.bridge.idle();
}

/** An announce from the server that `dev` received: everything queued to `dev` before it has arrived. */
async function announceBarrier(devs: TestDevice[], message: string): Promise<void> {
  const got = devs.map((d) => d.waitFor((m) => m.topic === 'announce' && m.payload.toString() === message, { includePast: true }));
  expect((await http('/announce', { message })).status).toBe(200);
  await Promise.all(got);
}

const since = (list: Received[], from: number) => list.filter((m) => m.seq > from);
const lastSeq = (dev: TestDevice) => dev.received.at(-1)?.seq ?? 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lwmqn-acl-'));
  // Mosquitto started as root reads these after switching to its own user.
  chmodSync(dir, 0o755);
  passwdFile = join(dir, 'passwd');
  const aclFile = join(dir, 'acl');
  copyFileSync(join(CONF_DIR, 'acl'), aclFile);
  // The accounts, made the way the docs say: the scripts (which call mosquitto_passwd -b), and
  // mosquitto_passwd itself for the reserved application account.
  const bridge = script('add-bridge.sh', [PASSWORDS['lwmqn-bridge']]);
  expect(bridge.stderr).toBe('');
  expect(bridge.stdout).toContain(`LWMQN_BRIDGE_PASSWORD=${PASSWORDS['lwmqn-bridge']}`);
  for (const dev of ['dev-a', 'dev-b'] as const) expect(script('add-device.sh', [dev, PASSWORDS[dev]]).status).toBe(0);
  execFileSync('mosquitto_passwd', ['-b', passwdFile, 'lwmqn-app', PASSWORDS['lwmqn-app']]);
  chmodSync(passwdFile, 0o644);
  chmodSync(aclFile, 0o644);

  mosquitto = await startMosquitto(committedConfig(passwdFile, aclFile));
  store = await startTestStore();
  stack = await startStack(
    {
      MQTT_URL: mosquitto.url,
      DYNAMODB_ENDPOINT: store.endpoint,
      TABLE_NAME: 'lwmqn_acl',
      HTTP_PORT: '0',
      LWMQN_BRIDGE_USERNAME: 'lwmqn-bridge',
      LWMQN_BRIDGE_PASSWORD: PASSWORDS['lwmqn-bridge'],
      LWMQN_REQUEST_TIMEOUT_MS: '3000',
      // The application account's reads of devNotify and devChange are checked too.
      LWMQN_EVENTS: 'all',
    },
    log,
  );
  stack.bridge.client.on('message', (topic) => bridgeSaw.push(topic));
  app = await EventWatcher.start(urlOf('lwmqn-app'));
  devA = await TestDevice.connect(urlOf('dev-a'), 'dev-a', { objects: sampleObjects() });
  devB = await TestDevice.connect(urlOf('dev-b'), 'dev-b', { objects: sampleObjects() });
  await devB.client.subscribeAsync('announce', { qos: 1 });
  devB.client.on('close', () => devBCloses++);
});

afterAll(async () => {
  for (const c of extraClients) c.end(true);
  await devA?.close().catch(() => undefined);
  await devB?.close().catch(() => undefined);
  await app?.close().catch(() => undefined);
  await stack?.close().catch(() => undefined);
  await store?.close().catch(() => undefined);
  await mosquitto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => expect(log.errors()).toEqual([]));

test('only accounts of the password file get in: anonymous, unknown users and wrong passwords are refused', async () => {
  const refused = (options: IClientOptions) =>
    expect(mqtt.connectAsync(url(), { reconnectPeriod: 0, connectTimeout: 5_000, ...options })).rejects.toMatchObject({ code: 5 });
  await refused({});
  await refused({ username: 'dev-a', password: 'wrong' });
  await refused({ username: 'dev-a' });
  await refused({ username: 'dev-a', password: PASSWORDS['dev-b'] });
  await refused({ username: 'dev-z', password: PASSWORDS['dev-a'] });
  await refused({ username: 'lwmqn-bridge', password: PASSWORDS['dev-a'] });

  // Positive control: the right passwords got in (beforeAll), and the refused logins above,
  // one of them under the bridge's username, disturbed no one.
  expect(stack.bridge.client.connected).toBe(true);
  expect(app.client.connected).toBe(true);
  expect(devA.client.connected && devB.client.connected).toBe(true);
  expect(devBCloses).toBe(0);
});

test('a device registers through the ACL: the bridge reads its objects and answers 201, the app sees devIncoming', async () => {
  expect((await registerDevice(devA, { mac: 'AA:00:00:00:00:0A' })).status).toBe(201);
  expect(
    devA.requests
      .filter((r) => r.cmdId === 0)
      .map((r) => Number(r.oid))
      .sort((x, y) => x - y),
  ).toEqual([1, 3, 3303]);
  expect((await http('/devices/dev-a')).body).toMatchObject({ clientId: 'dev-a', mac: 'aa:00:00:00:00:0a', status: 'online' });
  await app.waitFor('dev-a', 'devIncoming');
  expect(bridgeSaw).toContain('register/dev-a');
});

test('dev-a cannot register dev-b: the server never sees it, and dev-b itself still can', async () => {
  const from = bridgeSaw.length;
  await devA.publishTo('register/dev-b', { transId: 61, ...registerPayload({ mac: 'AA:00:00:00:00:0A' }) });
  await barrierThrough(devA);

  expect(bridgeSaw.slice(from)).toEqual(['ping/dev-a']);
  expect((await http('/devices/dev-b')).status).toBe(404);
  expect(devB.requests).toEqual([]); // had it gone through, the server would have read dev-b's objects

  // Positive control: the same register from dev-b's own account.
  expect((await registerDevice(devB, { mac: 'BB:00:00:00:00:0B' })).status).toBe(201);
  expect((await http('/devices/dev-b')).body).toMatchObject({ clientId: 'dev-b', mac: 'bb:00:00:00:00:0b' });
});

test("dev-a cannot publish on any of dev-b's channels nor forge what the server sends dev-b or the app", async () => {
  const recordBefore = (await http('/devices/dev-b')).body;
  const objectsBefore = (await http('/devices/dev-b/objects')).body;
  expect(recordBefore.status).toBe('online');
  const from = bridgeSaw.length;
  const devBFrom = lastSeq(devB);
  const appFrom = app.events.length;
  const devBRequests = devB.requests.length;

  // dev-b's client channels ...
  await devA.publishTo('notify/dev-b', { transId: 62, oid: 3303, iid: 0, rid: 5700, data: 99 });
  await devA.publishTo('update/dev-b', { transId: 63, ip: '10.6.6.6' });
  await devA.publishTo('schedule/dev-b', { transId: 64, sleep: true });
  await devA.publishTo('lwt/dev-b', 'offline');
  await devA.publishTo('response/dev-b', { transId: 1, cmdId: 0, status: 205, data: {} });
  await devA.publishTo('ping/dev-b', { transId: 65 });
  await devA.publishTo('deregister/dev-b', { transId: 66 });
  // ... and the server's: a command to dev-b (execute reboot), answers to dev-b, the broadcast, an event.
  await devA.publishTo('request/dev-b', { transId: 7, cmdId: 4, oid: 3, iid: 0, rid: 4, data: [] });
  await devA.publishTo('register/response/dev-b', { transId: 1, status: 409 });
  await devA.publishTo('notify/response/dev-b', { transId: 62, status: 204 });
  await devA.publishTo('announce', 'forged announce');
  await devA.publishTo('lwmqn/events/dev-b/devLeaving', { type: 'devLeaving', clientId: 'dev-b', data: 'forged', timestamp: 1 });
  await barrierThrough(devA);

  // The server saw none of it: only dev-a's own barrier ping.
  expect(bridgeSaw.slice(from)).toEqual(['ping/dev-a']);
  expect((await http('/devices/dev-b')).body).toEqual(recordBefore);
  expect((await http('/devices/dev-b/objects')).body).toEqual(objectsBefore);

  // Positive control: dev-b's own notify is stored and reaches the app as events.
  expect((await devB.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 22.5 })).status).toBe(204);
  expect((await http('/devices/dev-b/objects')).body['3303']['0']['5700']).toBe(22.5);
  await app.waitFor('dev-b', 'devNotify', (p) => p.data?.data === 22.5);
  await app.waitFor('dev-b', 'devChange', (p) => p.data?.data === 22.5);
  // The forged event was published before the real ones, so it would have arrived first.
  const appGot = app.events.slice(appFrom).filter((e) => e.topic.startsWith('lwmqn/events/dev-b/'));
  expect(appGot.map((e) => e.topic).sort()).toEqual(['lwmqn/events/dev-b/devChange', 'lwmqn/events/dev-b/devNotify']);

  // dev-b got only its own answer and the server's announce, nothing dev-a forged.
  await announceBarrier([devB], 'acl barrier 1');
  const got = since(devB.received, devBFrom).map((m) => [m.topic, m.payload.toString()]);
  expect(got.map(([t]) => t)).toEqual(['notify/response/dev-b', 'announce']);
  expect(got[1][1]).toBe('acl barrier 1');
  expect(devB.requests.length).toBe(devBRequests); // no execute from dev-a
});

test("dev-a cannot read dev-b's requests, responses, publications or events, whatever it subscribes to", async () => {
  // Mosquitto 2.0 grants every one of these subscriptions (SUBACK QoS 1, even for `#`): the ACL
  // filters each message at delivery.
  await devA.client.subscribeAsync(
    [
      'request/dev-b',
      'request/+',
      '+/response/dev-b',
      '+/response/+',
      'notify/+',
      'response/+',
      'lwmqn/events/#',
      '$SYS/#',
      '#',
      'announce',
    ],
    { qos: 1 },
  );
  const devAFrom = lastSeq(devA);
  const devBRequests = devB.requests.length;
  const appFrom = app.events.length;

  // The server commands dev-b through the API: request/dev-b out, response/dev-b back.
  const read = await http('/devices/dev-b/read', { path: '3303/0' });
  expect(read).toEqual({ status: 200, body: { status: 205, data: { sensorValue: 21.5, units: 'C' } } });
  expect(devB.requests.slice(devBRequests)).toEqual([{ transId: expect.any(Number), cmdId: 0, oid: 3303, iid: 0 }]);
  // dev-b publishes and gets answers; the server emits events for it.
  expect((await devB.call('ping', {})).status).toBe(200);
  expect((await devB.call('notify', { oid: 3303, iid: 1, rid: 5700, data: 18 })).status).toBe(204);
  await app.waitFor('dev-b', 'devNotify', (p) => p.data?.data === 18);
  expect(app.events.slice(appFrom).length).toBeGreaterThanOrEqual(2);

  // Positive control and barrier: dev-a's wildcard subscriptions do deliver what it may read.
  await announceBarrier([devA], 'acl barrier 2');
  expect(since(devA.received, devAFrom).map((m) => m.topic)).toEqual(expect.arrayContaining(['announce']));
  expect([...new Set(since(devA.received, devAFrom).map((m) => m.topic))]).toEqual(['announce']);
});

test("dev-a connecting with MQTT client id 'dev-b' is still dev-a: dev-b keeps its session, dev-a's is taken over", async () => {
  expect(devA.client.connected).toBe(true);
  const impostor = await connect('dev-a', PASSWORDS['dev-a'], { clientId: 'dev-b' });
  // use_username_as_clientid: the broker sees client id 'dev-a', so the impostor replaced
  // dev-a's earlier connection, not dev-b's.
  await eventually(() => expect(devA.client.connected).toBe(false), { timeoutMs: 3_000 });
  const heard: Array<[string, any]> = [];
  impostor.on('message', (t, p) => heard.push([t, JSON.parse(p.toString())]));
  await impostor.subscribeAsync(['ping/response/dev-a', 'ping/response/dev-b', 'request/dev-b'], { qos: 1 });

  const from = bridgeSaw.length;
  await impostor.publishAsync('ping/dev-b', JSON.stringify({ transId: 71 }), { qos: 1 });
  await impostor.publishAsync('ping/dev-a', JSON.stringify({ transId: 72 }), { qos: 1 });
  await eventually(() => expect(heard).toContainEqual(['ping/response/dev-a', { transId: 72, status: 200 }]));
  await stack.bridge.idle();
  expect(bridgeSaw.slice(from)).toEqual(['ping/dev-a']);
  expect(heard.filter(([t]) => t !== 'ping/response/dev-a')).toEqual([]);

  // dev-b was never disconnected and still works.
  expect(devBCloses).toBe(0);
  expect(devB.client.connected).toBe(true);
  expect((await devB.call('ping', {})).status).toBe(200);
  expect((await http('/devices/dev-b/read', { path: '3303/0' })).body).toEqual({
    status: 205,
    data: { sensorValue: 21.5, units: 'C' },
  });
  expect(heard.filter(([t]) => t !== 'ping/response/dev-a')).toEqual([]);
  impostor.end(true);
});

test('an MQTT 5 client is told what MQTT 3.1.1 is not: a denied publish gets reason code 135', async () => {
  const v5 = await connect('dev-a', PASSWORDS['dev-a'], { protocolVersion: 5 });
  const answers: any[] = [];
  v5.on('message', (_t, p) => answers.push(JSON.parse(p.toString())));
  await v5.subscribeAsync('ping/response/dev-a', { qos: 1 });
  const from = bridgeSaw.length;
  await expect(
    v5.publishAsync('notify/dev-b', '{"transId":81,"oid":3303,"iid":0,"rid":5700,"data":5}', { qos: 1 }),
  ).rejects.toMatchObject({ code: 135 });
  // Positive control: its own channel is accepted and answered.
  await v5.publishAsync('ping/dev-a', '{"transId":82}', { qos: 1 });
  await eventually(() => expect(answers).toContainEqual({ transId: 82, status: 200 }));
  await stack.bridge.idle();
  expect(bridgeSaw.slice(from)).toEqual(['ping/dev-a']);
  v5.end(true);
});

test("dev-a's MQTT will on lwt/dev-b is dropped; its will on its own lwt/dev-a takes dev-a offline", async () => {
  const from = bridgeSaw.length;
  const w1 = await connect('dev-a', PASSWORDS['dev-a'], {
    will: { topic: 'lwt/dev-b', payload: Buffer.from('gone'), qos: 1, retain: false },
  });
  w1.stream.destroy(); // no DISCONNECT: the broker sends the will
  // Whether the broker notices w1's end first or w2 takes the session over, w1's will is
  // handled before w2 is connected, hence before w2's will.
  const w2 = await connect('dev-a', PASSWORDS['dev-a'], {
    will: { topic: 'lwt/dev-a', payload: Buffer.from('gone'), qos: 1, retain: false },
  });
  w2.stream.destroy();

  await eventually(async () => expect((await http('/devices/dev-a')).body.status).toBe('offline'));
  await stack.bridge.idle();
  expect(bridgeSaw.slice(from)).toEqual(['lwt/dev-a']);
  expect((await http('/devices/dev-b')).body.status).toBe('online');
  await app.waitFor('dev-a', 'devStatus', (p) => p.data === 'offline');
  expect(app.of('dev-b', 'devStatus').filter((e) => e.payload.data === 'offline')).toEqual([]);
});

test('add-device.sh: validated clientIds, a generated password that works once Mosquitto reloads (SIGHUP); removal revokes', async () => {
  const before = readFileSync(passwdFile, 'utf8');
  for (const bad of ['', 'a/b', 'a+b', 'a#', 'a b', 'x'.repeat(129), 'lwmqn-bridge', 'lwmqn-app']) {
    const r = script('add-device.sh', [bad]);
    expect({ bad, status: r.status }).toEqual({ bad, status: 1 });
  }
  expect(readFileSync(passwdFile, 'utf8')).toBe(before);

  const added = script('add-device.sh', ['dev-c']);
  expect(added.status).toBe(0);
  expect(added.stdout).toMatch(/kill -HUP/);
  const password = /^password: (\S+)$/m.exec(added.stdout)?.[1];
  expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
  // Not before a reload ...
  await expect(mqtt.connectAsync(url('dev-c', password), { reconnectPeriod: 0 })).rejects.toMatchObject({ code: 5 });
  mosquitto.process.kill('SIGHUP');
  // ... and after it, dev-c is a device like the others: it registers under its own name only.
  const devC = await eventually(() => TestDevice.connect(url('dev-c', password), 'dev-c', { objects: sampleObjects() }), {
    timeoutMs: 5_000,
    intervalMs: 100,
  });
  try {
    expect((await registerDevice(devC, { mac: 'CC:00:00:00:00:0C' })).status).toBe(201);
    const from = bridgeSaw.length;
    await devC.publishTo('notify/dev-b', { transId: 91, oid: 3303, iid: 0, rid: 5700, data: 1 });
    await barrierThrough(devC);
    expect(bridgeSaw.slice(from)).toEqual(['ping/dev-c']);

    // Revoking (docs/SECURITY.md): delete the entry and reload; Mosquitto drops the connection.
    execFileSync('mosquitto_passwd', ['-D', passwdFile, 'dev-c']);
    expect(devC.client.connected).toBe(true);
    mosquitto.process.kill('SIGHUP');
    await eventually(() => expect(devC.client.connected).toBe(false), { timeoutMs: 5_000 });
    await expect(mqtt.connectAsync(url('dev-c', password), { reconnectPeriod: 0 })).rejects.toMatchObject({ code: 5 });
  } finally {
    await devC.close().catch(() => undefined);
  }
  // The other accounts survived both reloads.
  expect(stack.bridge.client.connected).toBe(true);
  expect(devB.client.connected).toBe(true);
  expect((await devB.call('ping', {})).status).toBe(200);
});
