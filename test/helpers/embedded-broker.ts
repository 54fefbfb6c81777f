import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The embedded broker (local/embedded-broker.ts) in a child process: jest's module loader
 * cannot load aedes, an ES module, on Node 20 (Node itself can, which is what `npm start` uses).
 */
export interface BrokerProcess {
  url: string;
  /** With MQTT_TLS_CERT and MQTT_TLS_KEY. */
  tlsUrl?: string;
  bridgeLogin: { clientId: string; username: string; password: string };
  /** What the broker logged (warn and error), one JSON object a line. */
  logged: any[];
  /** The environment that points a stack's bridge at this broker. */
  bridgeEnv: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

const ROOT = resolve(__dirname, '../..');

function run(env: NodeJS.ProcessEnv): { child: ChildProcess; first: Promise<any>; logged: any[] } {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', join(ROOT, 'test/helpers/embedded-broker-process.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, MQTT_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logged: any[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    try {
      logged.push(JSON.parse(line));
    } catch {
      logged.push({ text: line });
    }
  });
  const first = new Promise<any>((ok, fail) => {
    createInterface({ input: child.stdout }).once('line', (line) => ok(JSON.parse(line)));
    child.once('exit', (code) =>
      fail(new Error(`broker process exited (${code}) before saying anything: ${JSON.stringify(logged)}`)),
    );
  });
  return { child, first, logged };
}

export async function startBrokerProcess(env: NodeJS.ProcessEnv = {}): Promise<BrokerProcess> {
  const { child, first, logged } = run(env);
  const said = await first;
  if (said.error) throw new Error(said.error);
  return {
    ...said,
    logged,
    bridgeEnv: {
      MQTT_URL: said.url,
      LWMQN_BRIDGE_ID: said.bridgeLogin.clientId,
      LWMQN_BRIDGE_USERNAME: said.bridgeLogin.username,
      LWMQN_BRIDGE_PASSWORD: said.bridgeLogin.password,
    },
    stop: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}

/** The one-line error a broker with these settings stops on (fails if it starts). */
export async function brokerStartError(env: NodeJS.ProcessEnv): Promise<string> {
  const { child, first } = run(env);
  const said = await first;
  if (!said.error) {
    child.kill('SIGTERM');
    throw new Error(`the broker started: ${JSON.stringify(said)}`);
  }
  return said.error;
}
