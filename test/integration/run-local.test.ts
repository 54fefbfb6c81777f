import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { mosquittoBinary } from '../helpers/mosquitto';
import { eventually } from '../helpers/poll';
import { freePort } from '../helpers/ports';

/**
 * local/mosquitto/run-local.sh reads the password file the account scripts write: passwd beside
 * it, or LWMQN_PASSWD_FILE for both (docs/SECURITY.md). Before, the scripts honoured the
 * variable and run-local.sh did not, so the accounts they made were not the broker's.
 */
const CONF_DIR = resolve(__dirname, '../../local/mosquitto');

let dir: string;
let broker: ChildProcess | undefined;
afterAll(async () => {
  if (broker && broker.exitCode === null) {
    const gone = new Promise((ok) => broker!.once('exit', ok));
    broker.kill('SIGTERM');
    await gone;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('LWMQN_PASSWD_FILE: add-bridge.sh writes it, run-local.sh points Mosquitto at it, the account logs in', async () => {
  dir = mkdtempSync(join(tmpdir(), 'lwmqn-run-local-'));
  chmodSync(dir, 0o755); // Mosquitto started as root reads the file as its own user
  const passwd = join(dir, 'accounts');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LWMQN_PASSWD_FILE: passwd };
  const added = spawnSync(join(CONF_DIR, 'add-bridge.sh'), ['RunLocalSecret1'], { env, encoding: 'utf8' });
  expect(added.status).toBe(0);
  expect(added.stdout).toContain(`set in ${passwd}`);

  const port = await freePort();
  const state = join(dir, 'state');
  broker = spawn(join(CONF_DIR, 'run-local.sh'), [], {
    env: { ...env, MQTT_PORT: String(port), LWMQN_MOSQUITTO_DIR: state, MOSQUITTO: mosquittoBinary() },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  broker.stderr!.on('data', (d) => (stderr += d));
  await eventually(() => expect(stderr).toContain(`users ${passwd}`), { timeoutMs: 10_000 });
  const conf = readFileSync(join(state, 'mosquitto.conf'), 'utf8');
  expect(conf).toMatch(new RegExp(`^password_file ${passwd}$`, 'm'));
  expect(conf).toMatch(new RegExp(`^acl_file ${CONF_DIR}/acl$`, 'm'));
  expect(conf).toMatch(new RegExp(`^listener ${port}$`, 'm'));

  const url = `mqtt://127.0.0.1:${port}`;
  const options = { reconnectPeriod: 0, connectTimeout: 5_000 };
  const client = await eventually(
    () => mqtt.connectAsync(url, { ...options, username: 'lwmqn-bridge', password: 'RunLocalSecret1' }),
    {
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  );
  await client.endAsync();
  await expect(mqtt.connectAsync(url, { ...options, username: 'lwmqn-bridge', password: 'wrong' })).rejects.toMatchObject({
    code: 5,
  });
});

test('a missing password file is named', () => {
  const missing = join(tmpdir(), `lwmqn-no-such-passwd-${process.pid}`);
  const run = spawnSync(join(CONF_DIR, 'run-local.sh'), [], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LWMQN_PASSWD_FILE: missing, LWMQN_MOSQUITTO_DIR: join(dir, 'state2') },
    encoding: 'utf8',
  });
  expect(run.status).toBe(1);
  expect(run.stderr).toBe(`error: ${missing} is missing: run add-bridge.sh and add-device.sh first\n`);
});
