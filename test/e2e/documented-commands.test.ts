import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parse } from 'yaml';
import { settingsFromContext } from '../../infra/settings';
import { mosquittoBinary, startMosquitto } from '../helpers/mosquitto';
import { makeNode, type E2eNode } from '../helpers/mqtt-node';
import { eventually } from '../helpers/poll';
import { freePort } from '../helpers/ports';
import { cleanEnv, killAll, ROOT, runCommand, waitForHealth, type ServerProcess } from '../helpers/server-process';

/**
 * The commands README.md and docs/*.md give a user to run on their own machine, run here as
 * they are written: only the ports (HTTP_PORT, MQTT_PORT, LWMQN_API) and the data folders
 * (LWMQN_DATA_DIR) differ, through the environment. Each is taken from the markdown itself, so
 * a command edited in a doc is the command tested. The outcomes are real: the server serves
 * /health and a real `mqtt-node` device registers and answers the commands. The inventory at
 * the end says how each documented command is covered (here, by another test file, or checked as
 * far as it can be when it needs Docker or AWS); a command added to a doc fails it until it is.
 */
jest.setTimeout(120_000);

interface DocCommand {
  file: string;
  line: number;
  command: string;
}

/** Every line of the sh code blocks of README.md and docs/*.md: continuations joined, comments dropped. */
function documentedCommands(): DocCommand[] {
  const files = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const out: DocCommand[] = [];
  for (const file of files) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    let inSh = false;
    let inBlock = false;
    let pending = '';
    lines.forEach((raw, i) => {
      const fence = /^```(\w*)/.exec(raw);
      if (fence) {
        inSh = !inBlock && (fence[1] === 'sh' || fence[1] === 'bash');
        inBlock = !inBlock;
        return;
      }
      if (!inSh) return;
      let text = pending ? `${pending} ${raw.trim()}` : raw;
      pending = '';
      if (/\\\s*$/.test(text)) {
        pending = text.replace(/\s*\\\s*$/, '');
        return;
      }
      text = text.replace(/\s+#\s.*$/, '').trim();
      if (text && !text.startsWith('#')) out.push({ file, line: i + 1, command: text });
    });
  }
  return out;
}

const DOCS = documentedCommands();

/** The documented command, failing when the doc no longer says it. */
function documented(file: string, command: string): string {
  const hit = DOCS.find((d) => d.file === file && d.command === command);
  if (!hit)
    throw new Error(
      `${file} no longer documents \`${command}\`; its commands: ${JSON.stringify(DOCS.filter((d) => d.file === file).map((d) => d.command))}`,
    );
  return hit.command;
}

/** A command the README names in its prose (inline code) rather than in a code block. */
function documentedInline(file: string, command: string): string {
  expect(readFileSync(join(ROOT, file), 'utf8')).toContain('`' + command + '`');
  return command;
}

const dirs: string[] = [];
const nodes: E2eNode[] = [];
afterAll(async () => {
  // mqtt-node's close waits for its broker: bounded, for a broker that is gone already.
  const bounded = (p: Promise<void>) => Promise.race([p.catch(() => undefined), new Promise((ok) => setTimeout(ok, 2_000))]);
  await Promise.all(nodes.map((n) => bounded(n.close())));
  killAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

describe('README quick start, on the defaults (embedded broker and store)', () => {
  let dataDir: string;
  let httpPort: number;
  let mqttPort: number;
  let env: NodeJS.ProcessEnv;
  let server: ServerProcess;
  let node: E2eNode;
  const api = () => `http://127.0.0.1:${httpPort}`;
  /** A documented curl or CLI line, aimed at this test's API port. */
  const local = (command: string) => command.replaceAll('localhost:8080', `localhost:${httpPort}`);
  const sh = async (command: string, timeoutMs = 20_000) => {
    const run = runCommand(command, env);
    const exit = await run.exit(timeoutMs);
    return { ...exit, out: run.output(), stderr: run.stderr() };
  };
  const curl = async (command: string) => {
    const run = await sh(local(documented('README.md', command)));
    expect(run.code).toBe(0);
    return run.out;
  };
  const json = async (command: string) => JSON.parse(await curl(command));

  beforeAll(async () => {
    dataDir = tempDir('lwmqn-doc-');
    httpPort = await freePort();
    mqttPort = await freePort();
    // The CLI's API is LWMQN_API (else http://localhost:8080). npm_config_offline: `npx lwmqn`
    // must resolve to this repository's own bin; were it ever to look the name up in the
    // registry, it would fail here instead of running someone else's package.
    env = cleanEnv({
      LWMQN_DATA_DIR: dataDir,
      HTTP_PORT: String(httpPort),
      MQTT_PORT: String(mqttPort),
      LWMQN_API: `http://localhost:${httpPort}`,
      npm_config_offline: 'true',
    });
  });

  test('`npm ci && npm start`: the API on HTTP_PORT, the broker on MQTT_PORT, data in LWMQN_DATA_DIR; an mqtt-node device registers', async () => {
    const line = documented('README.md', 'npm ci && npm start');
    // `npm ci` is left out: node_modules here is shared with other checkouts and must not be reinstalled.
    server = runCommand(line.replace(/^npm ci && /, ''), env);
    expect(await waitForHealth(server, api())).toEqual({ ok: true, join: 'open', joinTimeLeft: 0 });
    expect(server.logs().map((l) => l.msg)).toEqual(
      expect.arrayContaining(['embedded MQTT broker (aedes) started', 'bridge subscribed to the server channels']),
    );
    expect(readdirSync(dataDir).length).toBeGreaterThan(0);

    node = makeNode('node-1', { rebootAnswers: true });
    nodes.push(node);
    expect((await node.connect(`mqtt://127.0.0.1:${mqttPort}`)).status).toBe(201);
  });

  test('the curl lines of the quick start and of "Manage your fleet" give what the README says', async () => {
    expect(await json('curl -s localhost:8080/health')).toMatchObject({ ok: true });
    expect((await json('curl -s localhost:8080/devices')).map((d: { clientId: string }) => d.clientId)).toEqual(['node-1']);
    expect(await json('curl -s localhost:8080/devices/node-1')).toMatchObject({ clientId: 'node-1', status: 'online' });
    expect((await json('curl -s localhost:8080/devices/node-1/objects'))['3303']).toEqual({ '0': { '5700': 21.5, '5701': 'C' } });

    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/read -d '{"path":"temperature/0/sensorValue"}'`)).toEqual({
      status: 205,
      data: 21.5,
    });
    expect(
      await json(`curl -s -XPOST localhost:8080/devices/node-1/write -d '{"path":"lightCtrl/0/onOff","value":true}'`),
    ).toMatchObject({ status: 204 });
    expect(node.so.get('lightCtrl', 0, 'onOff')).toBe(true);
    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/discover -d '{"path":"3303"}'`)).toMatchObject({ status: 205 });
    expect(
      await json(
        `curl -s -XPOST localhost:8080/devices/node-1/write-attrs -d '{"path":"3303/0/5700","attrs":{"pmin":1,"pmax":60}}'`,
      ),
    ).toMatchObject({ status: 204 });
    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/execute -d '{"path":"3/0/4","args":[]}'`)).toMatchObject({
      status: 204,
    });
    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/observe -d '{"path":"3303/0/5700"}'`)).toMatchObject({
      status: 205,
    });
    expect(Object.keys(node.node._reporters)).toHaveLength(1);
    expect(await json('curl -s -XPOST localhost:8080/devices/node-1/ping')).toMatchObject({ status: 200 });
    await curl(`curl -s -XPOST localhost:8080/announce -d '{"message":"maintenance at noon"}'`);
    await eventually(() => expect(node.announcements).toContain('maintenance at noon'));
    await curl(`curl -s -XPOST localhost:8080/permit-join -d '{"seconds":60}'`);
    expect((await json('curl -s localhost:8080/health')).joinTimeLeft).toBeGreaterThan(50);

    // The event stream shows a notification as it happens.
    const events = runCommand(local(documented('README.md', 'curl -sN localhost:8080/events')), env);
    await eventually(
      async () => {
        node.so.set('temperature', 0, 'sensorValue', 30 + Math.random());
        await new Promise<void>((ok, fail) =>
          node.node.notify(
            { oid: 3303, iid: 0, rid: 5700, data: node.so.get('temperature', 0, 'sensorValue') },
            (err: Error | null) => (err ? fail(err) : ok()),
          ),
        );
        expect(events.output()).toMatch(/devNotify/);
      },
      { timeoutMs: 15_000, intervalMs: 300 },
    );
    events.kill();

    // The API described, and watched.
    expect((await json('curl -s localhost:8080/openapi.json')).openapi).toBe('3.1.0');
    expect(await curl('curl -s localhost:8080/metrics')).toMatch(/^lwmqn_answers_total\{channel="register",status="201"\} 1$/m);

    // Last: the device is told it is removed.
    await curl('curl -s -XDELETE localhost:8080/devices/node-1');
    expect(JSON.parse((await node.waitForMessage('deregister/response/node-1')).payload).status).toBe(202);
    expect(await json('curl -s localhost:8080/devices')).toEqual([]);
  });

  test('the `npx lwmqn` lines, against LWMQN_API', async () => {
    // Registered again, for the CLI.
    await node.close();
    node = makeNode('node-1', { rebootAnswers: true });
    nodes.push(node);
    expect((await node.connect(`mqtt://127.0.0.1:${mqttPort}`)).status).toBe(201);

    const cli = async (command: string, expected: RegExp) => {
      const run = await sh(documented('README.md', command));
      expect({ command, code: run.code, out: run.out }).toEqual({ command, code: 0, out: expect.stringMatching(expected) });
    };
    await cli('npx lwmqn devices', /^node-1\s+online\s/m);
    await cli('npx lwmqn device node-1', /^clientId\s+node-1$/m);
    await cli('npx lwmqn objects node-1', /^temperature\/0\/sensorValue\s+\(3303\/0\/5700\)\s+21\.5 C$/m);
    await cli('npx lwmqn read node-1 temperature/0/sensorValue', /^205 Content\n21\.5$/m);
    await cli('npx lwmqn write node-1 lightCtrl/0/onOff true', /^204 Changed/m);
    await cli(`npx lwmqn write-attrs node-1 3303/0/5700 '{"pmin":1,"pmax":60}'`, /^204 Changed/m);
    await cli('npx lwmqn observe node-1 3303/0/5700', /^205 Content/m);
    await cli(`npx lwmqn execute node-1 3/0/4 '[]'`, /^204 Changed/m);
    await cli('npx lwmqn announce "maintenance at noon"', /^announced$/m);
    await cli('npx lwmqn permit-join 60', /^join permitted for 60s$/m);

    const tail = runCommand(documented('README.md', 'npx lwmqn events'), env);
    await eventually(
      async () => {
        await new Promise<void>((ok, fail) =>
          node.node.notify({ oid: 3303, iid: 0, rid: 5700, data: 40 + Math.random() }, (err: Error | null) =>
            err ? fail(err) : ok(),
          ),
        );
        expect(tail.output()).toMatch(/devNotify\s+node-1/);
      },
      { timeoutMs: 15_000, intervalMs: 300 },
    );
    tail.kill();

    await cli('npx lwmqn remove node-1', /^removed node-1$/m);
    expect(JSON.parse((await node.waitForMessage('deregister/response/node-1')).payload).status).toBe(202);
    await node.close();
  });

  test('Ctrl-C (SIGINT to the group, as a terminal sends it) stops `npm start` cleanly', async () => {
    process.kill(-server.child.pid!, 'SIGINT');
    await server.exit(20_000);
    expect(server.logs().map((l) => l.msg)).toEqual(
      expect.arrayContaining(['shutting down: finishing in-flight messages', 'stopped']),
    );
  });

  test('under a supervisor: `node --max-semi-space-size=4 local/launch.cjs` on the defaults serves the same data; SIGTERM exits 0', async () => {
    const line = documentedInline('README.md', 'node --max-semi-space-size=4 local/launch.cjs');
    // The Dockerfile and `npm start` run the same.
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(
      /^CMD \["node", "--max-semi-space-size=4", "local\/launch\.cjs"\]$/m,
    );
    expect((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start).toBe(
      line,
    );
    const supervised = runCommand(line, env);
    await waitForHealth(supervised, api());
    expect(supervised.logs().map((l) => l.msg)).toContain('embedded MQTT broker (aedes) started');
    // The data folder of the first run: the permit-join window it recorded is still open.
    expect(((await (await fetch(`${api()}/health`)).json()) as { joinTimeLeft: number }).joinTimeLeft).toBeGreaterThan(0);
    const dev = makeNode('node-2');
    nodes.push(dev);
    expect((await dev.connect(`mqtt://127.0.0.1:${mqttPort}`)).status).toBe(201);
    expect((await (await fetch(`${api()}/devices/node-2`)).json()) as object).toMatchObject({
      clientId: 'node-2',
      status: 'online',
    });
    await dev.close();

    supervised.child.kill('SIGTERM'); // the process itself, as systemd or Docker signal it
    expect(await supervised.exit(20_000)).toEqual({ code: 0, signal: null });
    expect(supervised.logs().map((l) => l.msg)).toContain('stopped');
  });

  test('`npx lwmqn start` does what npm start does', async () => {
    const started = runCommand(documented('README.md', 'npx lwmqn start'), env);
    await waitForHealth(started, api());
    expect(started.logs().map((l) => l.msg)).toEqual(
      expect.arrayContaining(['embedded MQTT broker (aedes) started', 'LWMQN server ready']),
    );
    process.kill(-started.child.pid!, 'SIGINT');
    await started.exit(20_000);
    expect(started.logs().map((l) => l.msg)).toContain('stopped');
  });
});

describe('docs/SECURITY.md: the account scripts and Mosquitto by hand', () => {
  test('`add-device.sh dev-001` (generated, given, from stdin): each password logs in to a Mosquitto reading that file', async () => {
    const dir = tempDir('lwmqn-doc-accounts-');
    chmodSync(dir, 0o755); // Mosquitto started as root reads the file as its own user
    const env = cleanEnv({ LWMQN_PASSWD_FILE: join(dir, 'passwd') });
    const passwords: string[] = [];
    for (const command of [
      'local/mosquitto/add-device.sh dev-001',
      "local/mosquitto/add-device.sh dev-001 'its-password'",
      "echo 'its-password' | local/mosquitto/add-device.sh dev-001 -",
    ]) {
      const run = runCommand(documented('docs/SECURITY.md', command), env);
      expect(await run.exit(10_000)).toEqual({ code: 0, signal: null });
      expect(run.output()).toContain(`device account 'dev-001' set in ${join(dir, 'passwd')}`);
      const generated = /^password: (\S+)$/m.exec(run.output());
      passwords.push(generated ? generated[1] : 'its-password');
      // Each one replaces the entry: log in with the password of the moment.
      chmodSync(join(dir, 'passwd'), 0o644);
      const broker = await startMosquitto(['allow_anonymous false', `password_file ${join(dir, 'passwd')}`]);
      try {
        const client = await mqtt.connectAsync(broker.url, {
          username: 'dev-001',
          password: passwords.at(-1),
          reconnectPeriod: 0,
          connectTimeout: 5_000,
        });
        await client.endAsync();
      } finally {
        await broker.stop();
      }
    }
    expect(passwords[0]).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  test('the "same by hand" lines write a config that Mosquitto runs with the accounts', async () => {
    // A checkout of its own (local/mosquitto with an account), the lines run in it as written.
    const checkout = tempDir('lwmqn-doc-byhand-');
    chmodSync(checkout, 0o755);
    mkdirSync(join(checkout, 'local'));
    cpSync(join(ROOT, 'local/mosquitto'), join(checkout, 'local/mosquitto'), {
      recursive: true,
      filter: (src) => !src.endsWith('/passwd'),
    });
    const env = cleanEnv();
    const added = runCommand('local/mosquitto/add-bridge.sh ByHandBridge1', env, checkout);
    expect((await added.exit(10_000)).code).toBe(0);
    chmodSync(join(checkout, 'local/mosquitto/passwd'), 0o644);

    const mkdir = documented('docs/SECURITY.md', 'mkdir -p .lwmqn/mosquitto/data');
    const sed = DOCS.find((d) => d.file === 'docs/SECURITY.md' && d.command.startsWith('sed -e "s#/mosquitto/config/#'))!.command;
    for (const command of [mkdir, sed]) expect((await runCommand(command, env, checkout).exit(10_000)).code).toBe(0);
    // Ports aside: the listener of the config written, and a data folder Mosquitto's own user may write.
    const port = await freePort();
    const conf = join(checkout, '.lwmqn/mosquitto/mosquitto.conf');
    const written = readFileSync(join(checkout, '.lwmqn/mosquitto/mosquitto.conf'), 'utf8');
    expect(written).toMatch(new RegExp(`^password_file ${checkout}/local/mosquitto/passwd$`, 'm'));
    expect(written).toMatch(new RegExp(`^persistence_location ${checkout}/.lwmqn/mosquitto/data/$`, 'm'));
    writeFileSync(conf, written.replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`));
    chmodSync(join(checkout, '.lwmqn/mosquitto/data'), 0o777);

    const mosquittoLine = documented('docs/SECURITY.md', 'mosquitto -c .lwmqn/mosquitto/mosquitto.conf');
    const broker = runCommand(mosquittoLine.replace(/^mosquitto /, `exec ${mosquittoBinary()} `), env, checkout);
    const client = await eventually(
      () =>
        mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
          username: 'lwmqn-bridge',
          password: 'ByHandBridge1',
          reconnectPeriod: 0,
          connectTimeout: 5_000,
        }),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    await client.endAsync();
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5_000 })).rejects.toMatchObject(
      { code: 5 },
    );
    broker.child.kill('SIGTERM');
    await broker.exit(10_000);
  });
});

describe("the embedded broker's accounts and TLS (README.md, docs/SECURITY.md)", () => {
  test('the account lines write a users file without passwords; the TLS line of npm start serves devices with those accounts', async () => {
    const dir = tempDir('lwmqn-doc-users-');
    const usersFile = join(dir, 'users.json');
    // Data folders aside: `$PWD/.lwmqn` (and the certificate files) are this test's folder.
    const aside = (command: string) => command.replaceAll('$PWD/.lwmqn', dir).replace(/=(cert|key)\.pem/g, `=${dir}/$1.pem`);
    const cliEnv = cleanEnv({ npm_config_offline: 'true' });
    for (const command of ['npx lwmqn add-device dev-001', 'npx lwmqn add-app dashboard']) {
      const run = runCommand(documented('README.md', command), { ...cliEnv, LWMQN_USERS_FILE: usersFile });
      expect({ command, exit: await run.exit(30_000) }).toEqual({ command, exit: { code: 0, signal: null } });
    }
    const block = [
      'export LWMQN_USERS_FILE=$PWD/.lwmqn/users.json',
      'npx lwmqn add-device dev-001',
      "npx lwmqn add-device dev-001 --password 'its-password'",
      "echo 'its-password' | npx lwmqn add-device dev-001 --password -",
      'npx lwmqn add-app dashboard',
    ]
      .map((command) => aside(documented('docs/SECURITY.md', command)))
      .join(' && ');
    const accounts = runCommand(block, cliEnv);
    expect(await accounts.exit(60_000)).toEqual({ code: 0, signal: null });
    expect(accounts.output()).toMatch(/^password: \S+$/m);
    const stored = readFileSync(usersFile, 'utf8');
    expect(Object.keys((JSON.parse(stored) as { accounts: object }).accounts).sort()).toEqual(['dashboard', 'dev-001']);
    expect(stored).not.toContain('its-password');

    const certLine = DOCS.find((d) => d.file === 'docs/SECURITY.md' && d.command.startsWith('openssl req -x509'))!.command;
    expect((await runCommand(certLine, cliEnv, dir).exit(30_000)).code).toBe(0);
    const [httpPort, mqttPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
    const tlsLine = aside(
      documented(
        'docs/SECURITY.md',
        'LWMQN_USERS_FILE=$PWD/.lwmqn/users.json MQTT_TLS_HOST=0.0.0.0 MQTT_TLS_CERT=cert.pem MQTT_TLS_KEY=key.pem npm start',
      ),
    );
    const server = runCommand(
      tlsLine,
      cleanEnv({
        LWMQN_DATA_DIR: join(dir, 'data'),
        HTTP_PORT: String(httpPort),
        MQTT_PORT: String(mqttPort),
        MQTT_TLS_PORT: String(tlsPort),
      }),
    );
    try {
      await waitForHealth(server, `http://127.0.0.1:${httpPort}`);
      const tls = { ca: readFileSync(join(dir, 'cert.pem')), servername: 'my-host', reconnectPeriod: 0, connectTimeout: 5_000 };
      const device = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, {
        ...tls,
        clientId: 'dev-001',
        username: 'dev-001',
        password: 'its-password',
      });
      await device.endAsync();
      await expect(
        mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, { ...tls, clientId: 'dev-001', username: 'dev-001', password: 'wrong' }),
      ).rejects.toMatchObject({ code: 4 });
    } finally {
      process.kill(-server.child.pid!, 'SIGINT');
      await server.exit(20_000);
    }
  });
});

describe('the benchmark', () => {
  test('`npm run bench -- --json`, sized down: JSON figures, nothing failed', async () => {
    const line = documented('README.md', 'npm run bench -- --json');
    // Sized down (the documented run takes minutes): 2 devices, one round, 1 s per measurement.
    const run = runCommand(`${line} --devices 2 --rounds 1 --seconds 1 --warmup 0 --reads 20`, cleanEnv());
    expect((await run.exit(90_000)).code).toBe(0);
    const out = run.output();
    const report = JSON.parse(out.slice(out.indexOf('\n{') + 1, out.lastIndexOf('}') + 1));
    expect(report.results).toEqual([
      expect.objectContaining({ server: 'lwmqn-server', devices: 2, registrationFailures: 0, notifyFailures: 0, readFailures: 0 }),
    ]);
    expect(report.results[0].notificationsPerSecond).toBeGreaterThan(0);
  });

  test('`npm run bench:memory`, sized down: every process of npm start measured, nothing failed, npm start stopped', async () => {
    const run = runCommand('npm run bench:memory -- --devices 200 --seconds 3 --json', cleanEnv());
    expect((await run.exit(120_000)).code).toBe(0);
    const out = run.output();
    const report = JSON.parse(out.slice(out.indexOf('\n{') + 1, out.lastIndexOf('}') + 1));
    expect(report).toMatchObject({ devices: 200, registrationFailures: 0, notifyFailures: 0, deregistrationFailures: 0 });
    const processes = report.processes as { role: string; pid: number; maxMiB: number; command: string }[];
    expect(processes.map((p) => p.role)).toEqual(expect.arrayContaining(['npm', 'sh', 'server']));
    // One server process, its store a thread of it; anything else is esbuild, while the server starts.
    expect(processes.filter((p) => p.role === 'server')).toHaveLength(1);
    for (const other of processes.filter((p) => !['npm', 'sh', 'server'].includes(p.role)))
      expect(other.command).toMatch(/^esbuild /);
    expect(report.maxTotalMiB).toBeGreaterThan(0);
    // Ctrl-C ended every process it started.
    for (const { pid } of report.processes as { pid: number }[]) expect(existsSync(`/proc/${pid}/status`)).toBe(false);
  });

  test('every option of the documented bench lines is one bench/fleet.ts takes', () => {
    const source = readFileSync(join(ROOT, 'bench/fleet.ts'), 'utf8');
    const options = new Set([...source.matchAll(/^\s+'?([a-z-]+)'?: \{ type: '(string|boolean)'/gm)].map((m) => m[1]));
    const lines = DOCS.filter((d) => /^npm run bench( |$)/.test(d.command));
    expect(lines.length).toBe(5);
    for (const { command } of lines) {
      for (const flag of command.matchAll(/--([a-z-]+)/g))
        expect({ command, flag: flag[1], known: options.has(flag[1]) }).toEqual({ command, flag: flag[1], known: true });
    }
    expect(source).toContain(`['mqtt-node', 'light'].includes(opts.client)`);
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.bench).toBe('tsx bench/fleet.ts');
  });
});

/**
 * How each documented command is covered: run in this file, run by another test file (which
 * must still contain the given text), or, when it cannot run here (Docker, AWS), checked below
 * as far as it can be.
 */
type Coverage = { here: true } | { test: string; shows: string } | { checked: string };
const HERE = { here: true } as const;
const COVERAGE: Record<string, Coverage> = {
  'README.md: npm ci && npm start': HERE,
  'README.md: open http://127.0.0.1:8080': { test: 'test/e2e/console.test.ts', shows: 'await page.goto(world.stack.apiUrl' },
  'README.md: npm ci && npm test': { checked: 'the whole suite (CI: .ci/run); see "what cannot run here"' },
  'README.md: curl -s localhost:8080/health': HERE,
  'README.md: curl -s localhost:8080/devices': HERE,
  'README.md: curl -s localhost:8080/devices/node-1': HERE,
  'README.md: curl -s localhost:8080/devices/node-1/objects': HERE,
  [`README.md: curl -s -XPOST localhost:8080/devices/node-1/read -d '{"path":"temperature/0/sensorValue"}'`]: HERE,
  [`README.md: curl -s -XPOST localhost:8080/devices/node-1/write -d '{"path":"lightCtrl/0/onOff","value":true}'`]: HERE,
  [`README.md: curl -s -XPOST localhost:8080/devices/node-1/discover -d '{"path":"3303"}'`]: HERE,
  [`README.md: curl -s -XPOST localhost:8080/devices/node-1/write-attrs -d '{"path":"3303/0/5700","attrs":{"pmin":1,"pmax":60}}'`]:
    HERE,
  [`README.md: curl -s -XPOST localhost:8080/devices/node-1/execute -d '{"path":"3/0/4","args":[]}'`]: HERE,
  [`README.md: curl -s -XPOST localhost:8080/devices/node-1/observe -d '{"path":"3303/0/5700"}'`]: HERE,
  'README.md: curl -s -XPOST localhost:8080/devices/node-1/ping': HERE,
  'README.md: curl -s -XDELETE localhost:8080/devices/node-1': HERE,
  [`README.md: curl -s -XPOST localhost:8080/announce -d '{"message":"maintenance at noon"}'`]: HERE,
  [`README.md: curl -s -XPOST localhost:8080/permit-join -d '{"seconds":60}'`]: HERE,
  'README.md: curl -sN localhost:8080/events': HERE,
  'README.md: npx lwmqn devices': HERE,
  'README.md: npx lwmqn device node-1': HERE,
  'README.md: npx lwmqn objects node-1': HERE,
  'README.md: curl -s localhost:8080/openapi.json': HERE,
  'README.md: curl -s localhost:8080/metrics': HERE,
  'README.md: npx lwmqn add-device dev-001': HERE,
  'README.md: npx lwmqn add-app dashboard': HERE,
  'docs/SECURITY.md: export LWMQN_USERS_FILE=$PWD/.lwmqn/users.json': HERE,
  'docs/SECURITY.md: npx lwmqn add-device dev-001': HERE,
  "docs/SECURITY.md: npx lwmqn add-device dev-001 --password 'its-password'": HERE,
  "docs/SECURITY.md: echo 'its-password' | npx lwmqn add-device dev-001 --password -": HERE,
  'docs/SECURITY.md: npx lwmqn add-app dashboard': HERE,
  'docs/SECURITY.md: LWMQN_USERS_FILE=$PWD/.lwmqn/users.json MQTT_TLS_HOST=0.0.0.0 MQTT_TLS_CERT=cert.pem MQTT_TLS_KEY=key.pem npm start':
    HERE,
  'docs/SECURITY.md: openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=my-host -addext subjectAltName=DNS:my-host -keyout key.pem -out cert.pem':
    HERE,
  'README.md: npx lwmqn read node-1 temperature/0/sensorValue': HERE,
  'README.md: npx lwmqn write node-1 lightCtrl/0/onOff true': HERE,
  [`README.md: npx lwmqn write-attrs node-1 3303/0/5700 '{"pmin":1,"pmax":60}'`]: HERE,
  'README.md: npx lwmqn observe node-1 3303/0/5700': HERE,
  [`README.md: npx lwmqn execute node-1 3/0/4 '[]'`]: HERE,
  'README.md: npx lwmqn announce "maintenance at noon"': HERE,
  'README.md: npx lwmqn permit-join 60': HERE,
  'README.md: npx lwmqn remove node-1': HERE,
  'README.md: npx lwmqn events': HERE,
  'README.md: npx lwmqn start': HERE,
  'README.md: npm run bench': { checked: 'minutes long; the same program runs sized down (`--json`), and its options are checked' },
  'README.md: npm run bench -- --compare': { checked: 'installs mqtt-shepherd from the registry; options checked' },
  'README.md: npm run bench -- --compare --ceiling': {
    checked: 'as --compare; the ceiling responder: test/integration/bench-ceiling.test.ts',
  },
  'README.md: npm run bench -- --client light --devices 2000': { checked: 'minutes long; options checked' },
  'README.md: npm run bench -- --json': HERE,
  'README.md: npm run bench:memory -- --devices 2000': {
    test: 'test/e2e/documented-commands.test.ts',
    shows: "runCommand('npm run bench:memory -- --devices 200 --seconds 3",
  },
  'README.md: npm run bench:console': {
    test: 'test/e2e/console.test.ts',
    shows: "runCommand('npm run bench:console -- --devices 200",
  },
  'docs/DEPLOY.md: npm ci': { checked: 'would reinstall the node_modules this checkout shares; package-lock.json exists' },
  'docs/DEPLOY.md: npx cdk synth': { test: 'test/infra/stack.test.ts', shows: 'Template.fromStack' },
  'docs/DEPLOY.md: npx tsx bench/bundles.ts': {
    checked:
      'minutes long (90 fresh processes); test/infra/bundles.test.ts builds the same bundles and checks what the figures rest on',
  },
  'docs/DEPLOY.md: IOT_ENDPOINT=$(aws iot describe-endpoint --endpoint-type iot:Data-ATS --query endpointAddress --output text)': {
    checked: 'AWS',
  },
  'docs/DEPLOY.md: npx cdk deploy -c iotEndpoint="$IOT_ENDPOINT" -c join=permit -c requestTimeoutMs=10000 -c defaultLifetime=86400 --outputs-file cdk-outputs.json':
    {
      checked: 'AWS; its -c settings are read by infra/settings.ts',
    },
  'docs/DEPLOY.md: STACK=Lwmqn': { checked: 'the default stack name' },
  'docs/DEPLOY.md: ENDPOINT=$(jq -r ".$STACK.IotDataEndpoint" cdk-outputs.json)': { checked: 'an output of infra/stack.ts' },
  'docs/DEPLOY.md: API=$(jq -r ".$STACK.ApiUrl" cdk-outputs.json)': { checked: 'an output of infra/stack.ts' },
  'docs/DEPLOY.md: POLICY=$(jq -r ".$STACK.DevicePolicyName" cdk-outputs.json)': { checked: 'an output of infra/stack.ts' },
  'docs/DEPLOY.md: ID=node-1': { checked: 'a shell variable' },
  'docs/DEPLOY.md: aws iot create-thing --thing-name "$ID"': { checked: 'AWS' },
  'docs/DEPLOY.md: CERT_ARN=$(aws iot create-keys-and-certificate --set-as-active --certificate-pem-outfile "$ID.cert.pem" --private-key-outfile "$ID.private.key" --query certificateArn --output text)':
    { checked: 'AWS' },
  'docs/DEPLOY.md: aws iot attach-policy --policy-name "$POLICY" --target "$CERT_ARN"': { checked: 'AWS' },
  'docs/DEPLOY.md: aws iot attach-thing-principal --thing-name "$ID" --principal "$CERT_ARN"': { checked: 'AWS' },
  'docs/DEPLOY.md: curl -sSo AmazonRootCA1.pem https://www.amazontrust.com/repository/AmazonRootCA1.pem': {
    checked: 'an AWS download',
  },
  'docs/DEPLOY.md: REGION=us-east-1': { checked: 'a shell variable' },
  'docs/DEPLOY.md: awscurl --service execute-api --region "$REGION" "$API/health"': { checked: 'AWS' },
  'docs/DEPLOY.md: awscurl --service execute-api --region "$REGION" "$API/devices"': { checked: 'AWS' },
  'docs/DEPLOY.md: awscurl --service execute-api --region "$REGION" "$API/devices/node-1"': { checked: 'AWS' },
  [`docs/DEPLOY.md: awscurl --service execute-api --region "$REGION" -X POST -H 'content-type: application/json' -d '{"path":"temperature/0/sensorValue"}' "$API/devices/node-1/read"`]:
    { checked: 'AWS' },
  [`docs/DEPLOY.md: awscurl --service execute-api --region "$REGION" -X POST -H 'content-type: application/json' -d '{"seconds":60}' "$API/permit-join"`]:
    {
      checked: 'AWS',
    },
  'docs/DEPLOY.md: npx lwmqn console --api "$API"': {
    test: 'test/e2e/console.test.ts',
    shows: '`npx lwmqn console --api ${cloud.url}',
  },
  'docs/DEPLOY.md: cd local': { checked: 'the compose folder exists' },
  "docs/DEPLOY.md: echo 'LWMQN_BRIDGE_PASSWORD=<the bridge password>' > .env": {
    test: 'test/infra/compose.test.ts',
    shows: 'LWMQN_BRIDGE_PASSWORD',
  },
  'docs/DEPLOY.md: docker compose up --build -d': { test: 'test/infra/compose.test.ts', shows: 'docker-compose.yml' },
  'docs/DEPLOY.md: curl -s localhost:8080/health': { checked: "against the Docker stack; the README's same line runs here" },
  'docs/DEPLOY.md: npx lwmqn devices': { checked: "against the Docker stack; the README's same line runs here" },
  'docs/DEPLOY.md: docker compose logs -f lwmqn': { checked: 'Docker; the service exists' },
  'docs/DEPLOY.md: docker compose down': { checked: 'Docker' },
  'docs/SECURITY.md: local/mosquitto/add-device.sh dev-001': HERE,
  "docs/SECURITY.md: local/mosquitto/add-device.sh dev-001 'its-password'": HERE,
  "docs/SECURITY.md: echo 'its-password' | local/mosquitto/add-device.sh dev-001 -": HERE,
  'docs/SECURITY.md: cd local && docker compose kill -s HUP mosquitto': { checked: 'Docker; the service exists' },
  'docs/SECURITY.md: kill -HUP <pid of mosquitto>': {
    test: 'test/integration/broker-acl.test.ts',
    shows: "mosquitto.process.kill('SIGHUP')",
  },
  'docs/SECURITY.md: local/mosquitto/add-bridge.sh': { test: 'test/integration/broker-login.test.ts', shows: "'add-bridge.sh'" },
  'docs/SECURITY.md: local/mosquitto/run-local.sh': {
    test: 'test/integration/broker-login.test.ts',
    shows: "runCommand('local/mosquitto/run-local.sh'",
  },
  'docs/SECURITY.md: MQTT_URL=mqtt://127.0.0.1:1883 LWMQN_BRIDGE_PASSWORD=<from add-bridge.sh> npm start': {
    test: 'test/integration/broker-login.test.ts',
    shows: 'MQTT_URL=mqtt://127.0.0.1:1883 LWMQN_BRIDGE_PASSWORD=<from add-bridge.sh> npm start',
  },
  'docs/SECURITY.md: mkdir -p .lwmqn/mosquitto/data': HERE,
  'docs/SECURITY.md: sed -e "s#/mosquitto/config/#$PWD/local/mosquitto/#" -e "s#/mosquitto/data/#$PWD/.lwmqn/mosquitto/data/#" local/mosquitto/mosquitto.conf > .lwmqn/mosquitto/mosquitto.conf':
    HERE,
  'docs/SECURITY.md: mosquitto -c .lwmqn/mosquitto/mosquitto.conf': HERE,
  'docs/SECURITY.md: sudo chgrp 1883 local/mosquitto/passwd': { checked: "Docker: the image's mosquitto user" },
};

describe('the inventory', () => {
  test('every command of the docs is covered here, and every one listed here is still documented', () => {
    const documentedKeys = DOCS.map((d) => `${d.file}: ${d.command}`);
    expect(documentedKeys.filter((k) => !(k in COVERAGE))).toEqual([]);
    expect(Object.keys(COVERAGE).filter((k) => !documentedKeys.includes(k))).toEqual([]);
    for (const [key, how] of Object.entries(COVERAGE)) {
      if ('test' in how)
        expect({ key, shows: readFileSync(join(ROOT, how.test), 'utf8').includes(how.shows) }).toEqual({ key, shows: true });
    }
  });

  test('the environment a documented command sets is read by the code', () => {
    const sources = [
      'local/stack.ts',
      'local/start.ts',
      'local/embedded-broker.ts',
      'shared/config.ts',
      'local/mosquitto/run-local.sh',
      'local/mosquitto/accounts.sh',
      'local/mosquitto/add-bridge.sh',
    ]
      .map((f) => readFileSync(join(ROOT, f), 'utf8'))
      .join('\n');
    const vars = new Set<string>();
    for (const { command } of DOCS) {
      // VAR=value before a command (not a shell assignment alone), and the lines written to .env.
      const prefix = /^((?:[A-Z_]+=(?!\$\()\S+\s+)+)\S/.exec(command);
      if (prefix) for (const m of prefix[1].matchAll(/([A-Z_]+)=/g)) vars.add(m[1]);
      const dotenv = /^echo '([A-Z_]+)=.*' > \.env$/.exec(command);
      if (dotenv) vars.add(dotenv[1]);
    }
    // And the variables the docs name in their comments (`MQTT_PORT=1884 for another port`).
    for (const { file } of DOCS)
      for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/# (MQTT_PORT|LWMQN_[A-Z_]+)=/g)) vars.add(m[1]);
    expect([...vars].sort()).toEqual(expect.arrayContaining(['LWMQN_BRIDGE_PASSWORD', 'MQTT_PORT', 'MQTT_URL']));
    for (const v of vars) expect({ v, read: new RegExp(`\\b${v}\\b`).test(sources) }).toEqual({ v, read: true });
  });

  test('what cannot run here: the files, services, settings and outputs it names exist', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.test).toBe('npm run typecheck && npm run lint && npm run format:check && jest --runInBand');
    expect(pkg.scripts.typecheck).toBe('tsc --noEmit -p tsconfig.json && tsc --noEmit -p console/tsconfig.json');
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(/^npm test /m);
    expect(existsSync(join(ROOT, 'package-lock.json'))).toBe(true);

    // Docker: the compose folder, its services.
    const compose = parse(readFileSync(join(ROOT, 'local/docker-compose.yml'), 'utf8'));
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['mosquitto', 'lwmqn']));

    // AWS: cdk.json's app, the -c settings of the deploy line, the outputs the jq lines read.
    expect(JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).app).toBe('npx tsx infra/app.ts');
    const deploy = DOCS.find((d) => d.command.startsWith('npx cdk deploy'))!.command;
    const context = Object.fromEntries([...deploy.matchAll(/-c (\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    context.iotEndpoint = 'abc123-ats.iot.us-east-1.amazonaws.com'; // what "$IOT_ENDPOINT" holds
    expect(settingsFromContext((k) => context[k])).toMatchObject({
      join: 'permit',
      requestTimeoutMs: 10000,
      defaultLifetime: 86400,
      iotEndpoint: context.iotEndpoint,
    });
    const stack = readFileSync(join(ROOT, 'infra/stack.ts'), 'utf8');
    for (const { command } of DOCS.filter((d) => d.command.includes('cdk-outputs.json') && d.command.includes('jq'))) {
      const output = /\.\$STACK\.(\w+)/.exec(command)![1];
      expect(stack).toContain(`new CfnOutput(this, '${output}'`);
    }
    expect(readFileSync(join(ROOT, 'infra/app.ts'), 'utf8')).toContain(`?? 'Lwmqn'`);
  });
});
