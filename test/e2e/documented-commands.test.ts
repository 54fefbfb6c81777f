import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeNode, type E2eNode } from '../helpers/mqtt-node';
import { eventually } from '../helpers/poll';
import { freePort } from '../helpers/ports';
import { cleanEnv, killAll, ROOT, runCommand, waitForHealth, type ServerProcess } from '../helpers/server-process';

/**
 * The commands README.md and docs/*.md give a user to run on their own machine, run here as
 * they are written: only the ports (HTTP_PORT, MQTT_PORT, LWMQN_API) and the data folders
 * (LWMQN_DATA_DIR) differ, through the environment. Each is taken from the markdown itself, so
 * a command edited in a doc is the command tested. The outcomes are real: the server serves
 * /health and a real `mqtt-node` device registers and answers the commands.
 */
jest.setTimeout(120_000);

interface DocCommand {
  file: string;
  line: number;
  command: string;
}

/** Every line of the sh code blocks of README.md and docs/*.md: continuations joined, comments dropped. */
function documentedCommands(): DocCommand[] {
  const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
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
  if (!hit) throw new Error(`${file} no longer documents \`${command}\`; its commands: ${JSON.stringify(DOCS.filter((d) => d.file === file).map((d) => d.command))}`);
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
    env = cleanEnv({ LWMQN_DATA_DIR: dataDir, HTTP_PORT: String(httpPort), MQTT_PORT: String(mqttPort), LWMQN_API: `http://localhost:${httpPort}`, npm_config_offline: 'true' });
  });

  test('`npm ci && npm start`: the API on HTTP_PORT, the broker on MQTT_PORT, data in LWMQN_DATA_DIR; an mqtt-node device registers', async () => {
    const line = documented('README.md', 'npm ci && npm start');
    // `npm ci` is left out: node_modules here is shared with other checkouts and must not be reinstalled.
    server = runCommand(line.replace(/^npm ci && /, ''), env);
    expect(await waitForHealth(server, api())).toEqual({ ok: true, join: 'open', joinTimeLeft: 0 });
    expect(server.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['embedded MQTT broker (aedes) started', 'bridge subscribed to the server channels']));
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

    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/read -d '{"path":"temperature/0/sensorValue"}'`)).toEqual({ status: 205, data: 21.5 });
    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/write -d '{"path":"lightCtrl/0/onOff","value":true}'`)).toMatchObject({ status: 204 });
    expect(node.so.get('lightCtrl', 0, 'onOff')).toBe(true);
    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/discover -d '{"path":"3303"}'`)).toMatchObject({ status: 205 });
    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/write-attrs -d '{"path":"3303/0/5700","attrs":{"pmin":1,"pmax":60}}'`)).toMatchObject({ status: 204 });
    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/execute -d '{"path":"3/0/4","args":[]}'`)).toMatchObject({ status: 204 });
    expect(await json(`curl -s -XPOST localhost:8080/devices/node-1/observe -d '{"path":"3303/0/5700"}'`)).toMatchObject({ status: 205 });
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
        await new Promise<void>((ok, fail) => node.node.notify({ oid: 3303, iid: 0, rid: 5700, data: node.so.get('temperature', 0, 'sensorValue') }, (err: Error | null) => (err ? fail(err) : ok())));
        expect(events.output()).toMatch(/devNotify/);
      },
      { timeoutMs: 15_000, intervalMs: 300 },
    );
    events.kill();

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
        await new Promise<void>((ok, fail) => node.node.notify({ oid: 3303, iid: 0, rid: 5700, data: 40 + Math.random() }, (err: Error | null) => (err ? fail(err) : ok())));
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
    expect(server.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down: finishing in-flight messages', 'stopped']));
  });

  test('under a supervisor: `node --require tsx/cjs local/start.ts` on the defaults serves the same data; SIGTERM exits 0', async () => {
    const line = documentedInline('README.md', 'node --require tsx/cjs local/start.ts');
    // The Dockerfile runs the same.
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^CMD \["node", "--require", "tsx\/cjs", "local\/start\.ts"\]$/m);
    const supervised = runCommand(line, env);
    await waitForHealth(supervised, api());
    expect(supervised.logs().map((l) => l.msg)).toContain('embedded MQTT broker (aedes) started');
    // The data folder of the first run: the permit-join window it recorded is still open.
    expect(((await (await fetch(`${api()}/health`)).json()) as { joinTimeLeft: number }).joinTimeLeft).toBeGreaterThan(0);
    const dev = makeNode('node-2');
    nodes.push(dev);
    expect((await dev.connect(`mqtt://127.0.0.1:${mqttPort}`)).status).toBe(201);
    expect((await (await fetch(`${api()}/devices/node-2`)).json()) as object).toMatchObject({ clientId: 'node-2', status: 'online' });
    await dev.close();

    supervised.child.kill('SIGTERM'); // the process itself, as systemd or Docker signal it
    expect(await supervised.exit(20_000)).toEqual({ code: 0, signal: null });
    expect(supervised.logs().map((l) => l.msg)).toContain('stopped');
  });

  test('`npx lwmqn start` does what npm start does', async () => {
    const started = runCommand(documented('README.md', 'npx lwmqn start'), env);
    await waitForHealth(started, api());
    expect(started.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['embedded MQTT broker (aedes) started', 'LWMQN server ready']));
    process.kill(-started.child.pid!, 'SIGINT');
    await started.exit(20_000);
    expect(started.logs().map((l) => l.msg)).toContain('stopped');
  });
});
