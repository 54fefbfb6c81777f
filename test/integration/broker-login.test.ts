import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { mosquittoBinary } from '../helpers/mosquitto';
import { makeNode, type E2eNode } from '../helpers/mqtt-node';
import { eventually } from '../helpers/poll';
import { freePort } from '../helpers/ports';
import { cleanEnv, killAll, ROOT, runCommand, waitForHealth, type ServerProcess } from '../helpers/server-process';

/**
 * The bridge's login to a Mosquitto that wants accounts (local/mosquitto/), with the server
 * started as docs/SECURITY.md says: accounts from add-bridge.sh and add-device.sh, Mosquitto from
 * run-local.sh, then `MQTT_URL=... LWMQN_BRIDGE_PASSWORD=... npm start`. Only ports and folders
 * differ. A login the broker refuses stops the server with one line naming the setting; a broker
 * that is not there yet is waited for, with /health saying so, and used once it comes.
 */
jest.setTimeout(120_000);

const SECURITY = readFileSync(join(ROOT, 'docs/SECURITY.md'), 'utf8');
const BARE_METAL = 'MQTT_URL=mqtt://127.0.0.1:1883 LWMQN_BRIDGE_PASSWORD=<from add-bridge.sh> npm start';
const BRIDGE_PASSWORD = 'BrokerLoginBridge1';
const DEVICE_PASSWORD = 'BrokerLoginDev001';

let dir: string;
let env: NodeJS.ProcessEnv;
let mqttPort: number;
const nodes: E2eNode[] = [];

/** The documented bare-metal line with this test's broker port and password. */
function bareMetal(port: number, password: string): string {
  expect(SECURITY).toContain(BARE_METAL);
  return BARE_METAL.replace(':1883', `:${port}`).replace('<from add-bridge.sh>', password);
}

/** `local/mosquitto/run-local.sh` on `port`, with this test's accounts; resolves once it listens. */
async function runLocal(port: number): Promise<ServerProcess> {
  expect(SECURITY).toContain('local/mosquitto/run-local.sh ');
  // A folder of its own (config, persistence) for each broker.
  const state = join(dir, `mosquitto-${port}`);
  const broker = runCommand('local/mosquitto/run-local.sh', { ...env, MQTT_PORT: String(port), LWMQN_MOSQUITTO_DIR: state });
  // (Its log goes to a pipe here, block-buffered: the port says when it is up.)
  await eventually(
    async () => {
      if (broker.child.exitCode !== null) throw new Error(`run-local.sh exited:\n${broker.output()}`);
      await new Promise<void>((ok, fail) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), ok()));
        socket.once('error', fail);
      });
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  return broker;
}

async function startServer(
  command: string,
  dataDir = mkdtempSync(join(dir, 'data-')),
): Promise<{ server: ServerProcess; api: string; dataDir: string }> {
  const httpPort = await freePort();
  const server = runCommand(command, { ...env, LWMQN_DATA_DIR: dataDir, HTTP_PORT: String(httpPort) });
  return { server, api: `http://127.0.0.1:${httpPort}`, dataDir };
}

/** Ctrl-C, as in the terminal the docs start it in. */
async function interrupt(server: ServerProcess): Promise<void> {
  process.kill(-server.child.pid!, 'SIGINT');
  await server.exit(20_000);
  expect({ msgs: server.logs().map((l) => l.msg), out: server.output() }).toMatchObject({
    msgs: expect.arrayContaining(['stopped']),
  });
}

async function registerDev001(): Promise<void> {
  const node = makeNode('dev-001');
  nodes.push(node);
  expect((await node.connect(`mqtt://127.0.0.1:${mqttPort}`, { username: 'dev-001', password: DEVICE_PASSWORD })).status).toBe(201);
  await node.close();
}

/** The one line `lwmqn: could not start: ...` on stderr, and nothing after it. */
function startError(server: ServerProcess): string {
  const lines = server.stderr().trimEnd().split('\n');
  const errors = lines.filter((l) => l.startsWith('lwmqn: could not start:'));
  expect(errors).toHaveLength(1);
  expect(lines.at(-1)).toBe(errors[0]);
  return errors[0];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lwmqn-login-'));
  chmodSync(dir, 0o755); // Mosquitto started as root reads the accounts as its own user
  // The password file and Mosquitto's folder of this test; everything else as documented.
  env = cleanEnv({ LWMQN_PASSWD_FILE: join(dir, 'passwd'), MOSQUITTO: mosquittoBinary() });
  for (const [script, args] of [
    ['add-bridge.sh', [BRIDGE_PASSWORD]],
    ['add-device.sh', ['dev-001', DEVICE_PASSWORD]],
  ] as const) {
    expect(SECURITY).toContain(`local/mosquitto/${script}`);
    const run = spawnSync(join(ROOT, 'local/mosquitto', script), args, { env, encoding: 'utf8' });
    expect(run.status).toBe(0);
  }
  mqttPort = await freePort();
  await runLocal(mqttPort);
});

afterAll(async () => {
  const bounded = (p: Promise<void>) => Promise.race([p.catch(() => undefined), new Promise((ok) => setTimeout(ok, 2_000))]);
  await Promise.all(nodes.map((n) => bounded(n.close())));
  killAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the bare-metal command (a password, no username): the bridge logs in as lwmqn-bridge and a device registers', async () => {
  const { server, api } = await startServer(bareMetal(mqttPort, BRIDGE_PASSWORD));
  expect(await waitForHealth(server, api)).toMatchObject({ ok: true });
  await registerDev001();
  expect(await (await fetch(`${api}/devices/dev-001`)).json()).toMatchObject({ clientId: 'dev-001', status: 'online' });
  await interrupt(server);
});

test('a wrong password: the server exits non-zero at once with one line naming LWMQN_BRIDGE_PASSWORD', async () => {
  const { server } = await startServer(bareMetal(mqttPort, 'not-the-password'));
  const exit = await server.exit(30_000);
  expect(exit.code).not.toBe(0);
  const line = startError(server);
  expect(line).toContain(`mqtt://127.0.0.1:${mqttPort}`);
  expect(line).toContain("as 'lwmqn-bridge'");
  expect(line).toContain('LWMQN_BRIDGE_PASSWORD');
  expect(line).not.toContain('not-the-password');
  // The line docs/SECURITY.md shows, word for word.
  const shown = /^lwmqn: could not start: .*$/m.exec(SECURITY)![0];
  expect(line).toBe(shown.replace('mqtt://127.0.0.1:1883', `mqtt://127.0.0.1:${mqttPort}`));
  console.log(`broker-login: wrong password -> exit ${exit.code}: ${line}`);
});

test('no account at all: the same, naming LWMQN_BRIDGE_USERNAME and LWMQN_BRIDGE_PASSWORD', async () => {
  const { server } = await startServer(bareMetal(mqttPort, BRIDGE_PASSWORD).replace(/LWMQN_BRIDGE_PASSWORD=\S+ /, ''));
  const exit = await server.exit(30_000);
  expect(exit.code).not.toBe(0);
  const line = startError(server);
  expect(line).toMatch(/without a username \(LWMQN_BRIDGE_USERNAME and LWMQN_BRIDGE_PASSWORD are unset\)/);
});

/** The broker and server of the next two tests. */
let late: { port: number; broker?: ServerProcess; server?: ServerProcess; dataDir?: string };

test('the broker not up yet: the API answers 503 naming it, each attempt is logged; once it runs, the bridge connects and a device registers', async () => {
  const port = await freePort();
  late = { port };
  const url = `mqtt://127.0.0.1:${port}`;
  const { server, api, dataDir } = await startServer(bareMetal(port, BRIDGE_PASSWORD));
  Object.assign(late, { server, dataDir });
  const health = await waitForHealth(server, api, 503);
  expect(health).toMatchObject({ ok: false, status: 'degraded' });
  expect(health.problems).toEqual([expect.stringContaining(`not connected to the MQTT broker at ${url}`)]);
  expect(health.problems[0]).toMatch(/ECONNREFUSED/);
  const attempts = () =>
    server.logs().filter((l) => l.level === 40 && l.msg === 'cannot connect to the MQTT broker; retrying in 1 s');
  await eventually(() => expect(attempts().length).toBeGreaterThanOrEqual(2), { timeoutMs: 10_000 });
  expect(attempts()[0]).toMatchObject({ url });

  const previous = mqttPort;
  mqttPort = port;
  try {
    late.broker = await runLocal(port);
    await waitForHealth(server, api, 200, 20_000);
    await eventually(() => expect(server.logs().map((l) => l.msg)).toContain('bridge subscribed to the server channels'));
    await registerDev001();
  } finally {
    mqttPort = previous;
  }
});

test("and a server started while its broker is down gets the bridge session's queued messages once the broker is back", async () => {
  // The server stops; its session (clean session off) keeps collecting the device's messages.
  await interrupt(late.server!);
  const url = `mqtt://127.0.0.1:${late.port}`;
  const device = await mqtt.connectAsync(url, {
    username: 'dev-001',
    password: DEVICE_PASSWORD,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  await device.publishAsync('notify/dev-001', JSON.stringify({ transId: 77, oid: 3303, iid: 0, rid: 5700, data: 99.5 }), { qos: 1 });
  await device.endAsync();
  // The broker stops too (and saves its sessions: run-local.sh's config persists them).
  late.broker!.child.kill('SIGTERM');
  await late.broker!.exit(10_000);

  const { server, api } = await startServer(bareMetal(late.port, BRIDGE_PASSWORD), late.dataDir);
  expect((await waitForHealth(server, api, 503)).problems[0]).toContain(`not connected to the MQTT broker at ${url}`);
  const objects = async () => (await (await fetch(`${api}/devices/dev-001/objects`)).json()) as Record<string, any>;
  expect((await objects())['3303']['0']['5700']).toBe(21.5);

  await runLocal(late.port);
  await waitForHealth(server, api, 200, 20_000);
  await eventually(async () => expect((await objects())['3303']['0']['5700']).toBe(99.5), { timeoutMs: 20_000, intervalMs: 200 });
  await interrupt(server);
});

test('a broker that accepts TCP and never answers: retried with a warning per attempt, /health names it; SIGTERM still exits 0', async () => {
  const sockets = new Set<Socket>();
  const silent: Server = createServer((s) => sockets.add(s));
  await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
  const port = (silent.address() as { port: number }).port;
  try {
    // As under a supervisor: node itself gets the signal.
    const { server, api } = await startServer(
      `MQTT_URL=mqtt://127.0.0.1:${port} LWMQN_BRIDGE_PASSWORD=${BRIDGE_PASSWORD} exec node local/launch.cjs`,
    );
    const health = await waitForHealth(server, api, 503);
    expect(health.problems).toEqual([
      `not connected to the MQTT broker at mqtt://127.0.0.1:${port}: no answer to CONNECT within 5000 ms`,
    ]);
    await eventually(() =>
      expect(server.logs()).toContainEqual(
        expect.objectContaining({
          level: 40,
          msg: 'cannot connect to the MQTT broker; retrying in 1 s',
          err: 'no answer to CONNECT within 5000 ms',
        }),
      ),
    );
    server.child.kill('SIGTERM');
    expect(await server.exit(20_000)).toEqual({ code: 0, signal: null });
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});
