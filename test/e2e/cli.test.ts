import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { eventually } from '../helpers/poll';
import { freePort } from '../helpers/ports';
import { nodeCall, startWorld, type E2eNode, type E2eWorld } from '../helpers/mqtt-node';

/**
 * The `lwmqn` binary as a user runs it (`node bin/lwmqn.js`), against a running local stack with
 * a real mqtt-node device.
 */

const ROOT = resolve(__dirname, '../..');
const BIN = resolve(ROOT, 'bin/lwmqn.js');

// The CLI reads LWMQN_API / LWMQN_API_TOKEN from its environment: keep the caller's out of it.
const cliEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.LWMQN_API;
  delete env.LWMQN_API_TOKEN;
  return env;
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function lwmqn(args: string[], api = world.stack.apiUrl, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    const options = { cwd: ROOT, env: { ...cliEnv(), ...env }, timeout: 20_000 };
    execFile(process.execPath, [BIN, '--api', api, ...args], options, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

let world: E2eWorld;
let dev: E2eNode;
const ID = 'cli-1';

beforeAll(async () => {
  world = await startWorld();
  dev = await world.node(ID);
});

afterAll(async () => {
  await world?.close();
});

jest.setTimeout(60_000);

test('devices: a table that lists the device; --json devices parses', async () => {
  const human = await lwmqn(['devices']);
  expect(human.code).toBe(0);
  const lines = human.stdout.trim().split('\n');
  expect(lines[0].split(/\s+/)).toEqual(['clientId', 'status', 'ip', 'mac', 'lifetime', 'expiresIn']);
  const row = lines.find((l) => l.startsWith(`${ID} `));
  expect(row).toBeDefined();
  expect(row!.split(/\s+/).slice(0, 5)).toEqual([ID, 'online', '127.0.0.1', dev.node.mac, '600']);

  const json = await lwmqn(['--json', 'devices']);
  expect(json.code).toBe(0);
  const list = JSON.parse(json.stdout);
  expect(Array.isArray(list)).toBe(true);
  expect(list).toEqual([expect.objectContaining({ clientId: ID, status: 'online', lifetime: 600 })]);
});

test("device <id>: the record; an unknown id exits non-zero with the API's reason", async () => {
  const shown = await lwmqn(['device', ID]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(new RegExp(`^clientId\\s+${ID}$`, 'm'));
  expect(shown.stdout).toMatch(/^lifetime\s+600$/m);
  expect(shown.stdout).toMatch(/^status\s+online$/m);

  const json = await lwmqn(['--json', 'device', ID]);
  expect(JSON.parse(json.stdout)).toMatchObject({ clientId: ID, lifetime: 600, objList: { '3303': [0] } });

  const unknown = await lwmqn(['device', 'nobody-here']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/404/);
  expect(unknown.stderr).toMatch(/not registered/);
});

test('objects <id> --json: the stored tree, keyed by numeric ids', async () => {
  const shown = await lwmqn(['objects', ID, '--json']);
  expect(shown.code).toBe(0);
  const tree = JSON.parse(shown.stdout);
  expect(tree['3303']).toEqual({ '0': { '5700': 21.5, '5701': 'C' } });
  expect(tree['3311']).toEqual({ '0': { '5850': false } });
});

test("objects <id>: one line per resource with its IPSO names, its ids and its value in the instance's units", async () => {
  const shown = await lwmqn(['objects', ID]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/^temperature\/0\/sensorValue\s+\(3303\/0\/5700\)\s+21\.5 C$/m);
  expect(shown.stdout).toMatch(/^temperature\/0\/units\s+\(3303\/0\/5701\)\s+C$/m);
  expect(shown.stdout).toMatch(/^lightCtrl\/0\/onOff\s+\(3311\/0\/5850\)\s+false$/m);
});

test('a command piped into a reader that stops early ends quietly (lwmqn events | head -n 1)', async () => {
  const shell = spawn('sh', ['-c', `"${process.execPath}" "${BIN}" --api ${world.stack.apiUrl} events | head -n 1`], {
    cwd: ROOT,
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  shell.stdout.on('data', (d) => (out += d));
  shell.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((done) => shell.once('exit', (code) => done(code)));
  let value = 60;
  try {
    // The first event fills head's one line; the next write after head has gone meets a closed pipe.
    await eventually(
      async () => {
        value += 1;
        await nodeCall((cb) => dev.node.notify({ oid: 3303, iid: 0, rid: 5700, data: value }, cb));
        expect(shell.exitCode).not.toBeNull();
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    expect(await exited).toBe(0);
    expect(out).toMatch(/devNotify/);
    expect(err).toBe('');
  } finally {
    shell.kill('SIGTERM');
  }
});

test('read: exit 0, shows 205 and the value (by name and by number); --json gives {status, data}', async () => {
  dev.so.set('temperature', 0, 'sensorValue', 27.25);
  const byName = await lwmqn(['read', ID, 'temperature/0/sensorValue']);
  expect(byName.code).toBe(0);
  expect(byName.stdout).toMatch(/^205 Content$/m);
  expect(byName.stdout).toMatch(/^27\.25$/m);

  const json = await lwmqn(['--json', 'read', ID, '3303/0']);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({ status: 205, data: { sensorValue: 27.25, units: 'C' } });
});

test("write: 204 on a writable resource; the device's 405 on a read-only one exits non-zero", async () => {
  const on = await lwmqn(['write', ID, 'lightCtrl/0/onOff', 'true']);
  expect(on.code).toBe(0);
  expect(on.stdout).toMatch(/^204 Changed/m);
  expect(dev.so.get('lightCtrl', 0, 'onOff')).toBe(true);

  const readOnly = await lwmqn(['write', ID, 'temperature/0/sensorValue', '99']);
  expect(readOnly.code).not.toBe(0);
  expect(readOnly.stdout).toMatch(/405/);
  expect(dev.so.get('temperature', 0, 'sensorValue')).not.toBe(99);

  const badPath = await lwmqn(['write', ID, 'lightCtrl', '1']);
  expect(badPath.code).toBe(1);
  expect(badPath.stderr).toMatch(/400/);
});

test('discover, write-attrs, execute and observe through the CLI', async () => {
  const discovered = await lwmqn(['--json', 'discover', ID, 'temperature']);
  expect(discovered.code).toBe(0);
  expect(JSON.parse(discovered.stdout)).toMatchObject({ status: 205, data: { resrcList: { '0': [5700, 5701] } } });

  const attrs = await lwmqn(['write-attrs', ID, 'temperature/0/sensorValue', '{"pmin":5,"pmax":50}']);
  expect(attrs.code).toBe(0);
  expect(attrs.stdout).toMatch(/^204 Changed/m);
  const badAttrs = await lwmqn(['write-attrs', ID, 'temperature/0/sensorValue', 'pmin=5']);
  expect(badAttrs.code).toBe(1);
  expect(badAttrs.stderr).toMatch(/must be JSON/);

  const executed = await lwmqn(['execute', ID, 'device/0/factoryReset', '[7]']);
  expect(executed.code).toBe(0);
  expect(executed.stdout).toMatch(/^204 Changed/m);
  expect(dev.executed).toContainEqual([7]);

  const observed = await lwmqn(['observe', ID, 'temperature/0/sensorValue']);
  expect(observed.code).toBe(0);
  expect(observed.stdout).toMatch(/^205 Content/m);
  expect(Object.keys(dev.node._reporters)).toHaveLength(1);
  const cancelled = await lwmqn(['observe', ID, 'temperature/0/sensorValue', '--cancel']);
  expect(cancelled.code).toBe(0);
  expect(Object.keys(dev.node._reporters)).toHaveLength(0);
});

test('ping: 200 OK', async () => {
  const pong = await lwmqn(['ping', ID]);
  expect(pong.code).toBe(0);
  expect(pong.stdout.trim()).toBe('200 OK');
});

test('announce: the device receives the text', async () => {
  const text = `hello from the cli ${process.pid}`;
  const sent = await lwmqn(['announce', text]);
  expect(sent.code).toBe(0);
  expect(sent.stdout.trim()).toBe('announced');
  await eventually(() => expect(dev.announcements).toContain(text));
});

test('permit-join: the window opens; a bad number is refused', async () => {
  const opened = await lwmqn(['permit-join', '30']);
  expect(opened.code).toBe(0);
  expect(opened.stdout.trim()).toBe('join permitted for 30s');
  const health = (await (await fetch(`${world.stack.apiUrl}/health`)).json()) as { joinTimeLeft: number };
  expect(health.joinTimeLeft).toBeGreaterThan(0);
  expect(health.joinTimeLeft).toBeLessThanOrEqual(30);

  const bad = await lwmqn(['permit-join', 'soon']);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/whole number/);
});

test('events: prints an event as it happens', async () => {
  const child: ChildProcess = spawn(process.execPath, [BIN, '--api', world.stack.apiUrl, 'events'], {
    cwd: ROOT,
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  try {
    // The stream may not be open yet when the first notify goes out: notify until one shows.
    let value = 40;
    await eventually(
      async () => {
        value += 1;
        const rsp = await nodeCall((cb) => dev.node.notify({ oid: 3303, iid: 0, rid: 5700, data: value }, cb));
        expect(rsp.status).toBe(204);
        expect(out).toMatch(/devNotify/);
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    const line = out.split('\n').find((l) => l.includes('devNotify'))!;
    expect(line).toContain(ID);
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\s+devNotify\s+/);
    expect(line).toMatch(/"oid":3303,"iid":0,"rid":5700,"data":\d+/);
    expect(child.exitCode).toBeNull(); // still tailing
    expect(err).toBe('');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
});

test('remove: the device is removed and told so; afterwards it is unknown', async () => {
  const removed = await lwmqn(['remove', ID]);
  expect(removed.code).toBe(0);
  expect(removed.stdout.trim()).toBe(`removed ${ID}`);
  const told = await dev.waitForMessage(`deregister/response/${ID}`);
  expect(JSON.parse(told.payload).status).toBe(202);

  const gone = await lwmqn(['device', ID]);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/404/);
  const empty = await lwmqn(['devices']);
  expect(empty.code).toBe(0);
  expect(empty.stdout.trim()).toBe('no devices registered');
});

test('an unreachable API exits 2 with a clear message', async () => {
  const port = await freePort();
  const run = await lwmqn(['devices'], `http://127.0.0.1:${port}`);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toContain(`cannot reach the API at http://127.0.0.1:${port}`);
});

describe('against an API that wants a bearer token', () => {
  const TOKEN = 'cli-s3cret';
  let guarded: E2eWorld;
  beforeAll(async () => {
    guarded = await startWorld({ LWMQN_API_TOKEN: TOKEN });
    await guarded.node('cli-tok');
  });
  afterAll(async () => {
    await guarded?.close();
  });

  test('--token or LWMQN_API_TOKEN gets in; without it the CLI exits 1 with the 401', async () => {
    const api = guarded.stack.apiUrl;
    const refused = await lwmqn(['devices'], api);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/401/);
    expect(refused.stderr).toMatch(/bearer token/);

    const byFlag = await lwmqn(['--token', TOKEN, '--json', 'devices'], api);
    expect(byFlag.code).toBe(0);
    expect(JSON.parse(byFlag.stdout).map((d: { clientId: string }) => d.clientId)).toEqual(['cli-tok']);

    const byEnv = await lwmqn(['read', 'cli-tok', 'temperature/0/sensorValue'], api, { LWMQN_API_TOKEN: TOKEN });
    expect(byEnv.code).toBe(0);
    expect(byEnv.stdout).toMatch(/^205 Content$/m);
    expect(byEnv.stdout).toMatch(/^21\.5$/m);
  });
});
