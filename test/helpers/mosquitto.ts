import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';

/** A real Mosquitto process on a free loopback port, for the integration suites. */
export interface MosquittoProcess {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export function mosquittoBinary(): string {
  for (const candidate of [process.env.MOSQUITTO_BIN, '/usr/sbin/mosquitto', '/usr/bin/mosquitto', 'mosquitto']) {
    if (candidate && spawnSync(candidate, ['-h']).error === undefined) return candidate;
  }
  throw new Error('mosquitto is not installed: the integration tests need it (apt-get install -y mosquitto)');
}

/** `extraConfig` lines are appended (auth, ACL); by default anonymous clients are allowed. */
export async function startMosquitto(extraConfig: string[] = ['allow_anonymous true']): Promise<MosquittoProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lwmqn-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  // The settings local/mosquitto/mosquitto.conf recommends for a server bridge: no Nagle delay
  // on each small PUBACK, and room for a backlog while the bridge is down.
  const base = [
    `listener ${port} 127.0.0.1`,
    'persistence false',
    'set_tcp_nodelay true',
    'max_queued_messages 100000',
    'max_inflight_messages 1000',
  ];
  writeFileSync(conf, [...base, ...extraConfig, ''].join('\n'));
  const child = spawn(mosquittoBinary(), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await waitForPort(port, child, () => stderr);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    process: child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port}: ${stderr()}`);
}
