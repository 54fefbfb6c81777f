/**
 * The resident memory of every process `npm start` runs (npm, sh, the server with its store thread, and any
 * other child), with light devices on the embedded broker: starts `npm start` as a user does, in
 * a fresh data folder on free ports, samples each process's VmRSS every 250 ms (and their sum at
 * the same instant) and its PSS (below), registers `--devices` devices, keeps 2 notifies in flight per device for
 * `--seconds`, deregisters them and stops `npm start` with Ctrl-C's SIGINT to its process group.
 * Exits 1 when a registration, notification or deregistration failed.
 *
 *   npm run bench:memory -- [--devices 2000] [--seconds 20] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/helpers/ports';
import { makeDevice, type BenchDevice } from './devices';
import { Progress, round } from './stats';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const opts = { devices: Number(values.devices), seconds: Number(values.seconds) };
if (!Number.isInteger(opts.devices) || opts.devices < 1) throw new Error('--devices is a whole number, 1 or more');
if (!(opts.seconds > 0)) throw new Error('--seconds is a number of seconds, more than 0');

const ROOT = resolve(__dirname, '..');
const INFLIGHT = 2;
const say = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen {
  pid: number;
  role: string;
  command: string;
  idleMiB: number;
  maxMiB: number;
  maxPssMiB: number;
}

/** Every process under `pid` (itself included), children of any of its threads. */
function tree(pid: number): number[] {
  const out = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      for (const child of children) out.push(...tree(Number(child)));
    }
  } catch {
    // gone meanwhile
  }
  return out;
}

function describe(pid: number): { role: string; command: string } {
  let argv: string[] = [];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    // gone meanwhile
  }
  const line = argv.map((a, i) => (i === 0 ? basename(a) : a.replace(`${ROOT}/`, ''))).join(' ');
  const command = line.length > 60 ? `${line.slice(0, 57)}...` : line;
  const role = /^npm\b/.test(line)
    ? 'npm'
    : /^(ba|da)?sh\b/.test(line)
      ? 'sh'
      : line.includes('local/start.ts') || line.includes('local/launch.cjs')
        ? 'server'
        : 'other';
  return { role, command };
}

/** Samples every process of the tree every 250 ms: each one's max and the max of their sum. */
class Sampler {
  readonly seen = new Map<number, Seen>();
  maxTotalMiB = 0;
  idleTotalMiB = 0;
  maxTotalPssMiB = 0;
  private timer?: NodeJS.Timeout;
  constructor(private readonly root: number) {}
  sample(idle = false): void {
    let total = 0;
    let totalPss = 0;
    for (const pid of tree(this.root)) {
      const own = ownRssMiB(pid);
      if (!(own >= 0)) continue;
      total += own;
      const pss = ownPssMiB(pid);
      if (pss >= 0) totalPss += pss;
      let s = this.seen.get(pid);
      if (!s) this.seen.set(pid, (s = { pid, role: '', command: '', idleMiB: NaN, maxMiB: 0, maxPssMiB: 0 }));
      // Again each time: a child is first seen as a copy of its parent, before its exec.
      Object.assign(s, describe(pid));
      s.maxMiB = Math.max(s.maxMiB, own);
      if (pss >= 0) s.maxPssMiB = Math.max(s.maxPssMiB, pss);
      if (idle) s.idleMiB = own;
    }
    this.maxTotalMiB = Math.max(this.maxTotalMiB, total);
    this.maxTotalPssMiB = Math.max(this.maxTotalPssMiB, totalPss);
    if (idle) this.idleTotalMiB = total;
  }
  start(): void {
    this.timer = setInterval(() => this.sample(), 250);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** A `Key:   123 kB` line of a /proc file, in MiB; NaN once the process is gone. */
function procMiB(path: string, key: string): number {
  try {
    const line = readFileSync(path, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(key));
    return line ? Number(line.replace(/\D+/g, '')) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const ownRssMiB = (pid: number): number => procMiB(`/proc/${pid}/status`, 'VmRSS:');

/**
 * The process's share of the memory it uses: each page it shares (the node binary's code, mapped
 * by npm, the server and the store alike) divided by how many processes map it. The RSS sum
 * counts such a page once per process; the PSS sum is what the machine gives them together.
 */
const ownPssMiB = (pid: number): number => procMiB(`/proc/${pid}/smaps_rollup`, 'Pss:');

async function waitHealthy(child: ChildProcess, apiUrl: string, log: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}; its output: ${log}`);
    try {
      if ((await fetch(`${apiUrl}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`npm start did not answer /health within 60 s; its output: ${log}`);
    await sleep(100);
  }
}

/** Every device at once; a failure is any status but `ok`. */
async function all(devices: BenchDevice[], label: string, call: (d: BenchDevice) => Promise<number>, ok: number[]) {
  const progress = new Progress(label, devices.length);
  let done = 0;
  let failures = 0;
  const start = performance.now();
  await Promise.all(
    devices.map(async (d) => {
      if (!ok.includes(await call(d))) failures++;
      progress.tick(++done);
    }),
  );
  return { perSecond: round(devices.length / ((performance.now() - start) / 1000)), failures };
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lwmqn-memory-bench-'));
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const logPath = join(tmpdir(), `${basename(dataDir)}.log`);
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    // detached: a process group of its own, which Ctrl-C's SIGINT reaches as a whole.
    detached: true,
    stdio: ['ignore', openSync(logPath, 'w'), openSync(logPath, 'a')],
    env: {
      ...process.env,
      LWMQN_DATA_DIR: dataDir,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(mqttPort),
      MQTT_URL: '',
      DYNAMODB_ENDPOINT: '',
      LWMQN_USERS_FILE: '',
      LOG_LEVEL: 'warn',
    },
  });
  const exited = new Promise<void>((r) => npm.once('exit', () => r()));
  const sampler = new Sampler(npm.pid!);
  const devices = Array.from({ length: opts.devices }, (_, i) => makeDevice('light', `mem-${i}`, `mqtt://127.0.0.1:${mqttPort}`));
  // From the start: a process that lives only while the server starts (esbuild) is seen too.
  sampler.start();
  let result;
  try {
    await waitHealthy(npm, `http://127.0.0.1:${httpPort}`, logPath);
    await sleep(1000);
    sampler.sample(true);
    const prepare = new Progress('connecting', devices.length);
    for (let i = 0; i < devices.length; i += 500) {
      await Promise.all(devices.slice(i, i + 500).map((d) => d.prepare()));
      prepare.tick(Math.min(devices.length, i + 500));
    }
    const registered = await all(devices, 'registering', (d) => d.register(), [201, 200]);
    let notifications = 0;
    let notifyFailures = 0;
    const until = performance.now() + opts.seconds * 1000;
    const notifying = new Progress('notifying (s)', opts.seconds);
    const ticker = setInterval(() => notifying.tick(Math.round(opts.seconds - (until - performance.now()) / 1000)), 250);
    let value = 0;
    const started = performance.now();
    await Promise.all(
      devices.flatMap((d) =>
        Array.from({ length: INFLIGHT }, async () => {
          while (performance.now() < until) {
            if ((await d.notify(++value)) === 204) notifications++;
            else notifyFailures++;
          }
        }),
      ),
    );
    clearInterval(ticker);
    notifying.tick(opts.seconds);
    const notifyPerSecond = round(notifications / ((performance.now() - started) / 1000));
    const deregistered = await all(devices, 'deregistering', (d) => d.deregister(), [202]);
    sampler.sample();
    result = {
      devices: opts.devices,
      seconds: opts.seconds,
      registrationsPerSecond: registered.perSecond,
      registrationFailures: registered.failures,
      notificationsPerSecond: notifyPerSecond,
      notifyFailures,
      deregistrationFailures: deregistered.failures,
      processes: [...sampler.seen.values()].map((s) => ({
        ...s,
        idleMiB: round(s.idleMiB),
        maxMiB: round(s.maxMiB),
        maxPssMiB: round(s.maxPssMiB),
      })),
      idleTotalMiB: round(sampler.idleTotalMiB),
      maxTotalMiB: round(sampler.maxTotalMiB),
      maxTotalPssMiB: round(sampler.maxTotalPssMiB),
    };
  } finally {
    sampler.stop();
    for (const d of devices) d.close();
    // Ctrl-C: SIGINT to the whole process group; SIGKILL if it has not ended in 30 s.
    process.kill(-npm.pid!, 'SIGINT');
    const killer = setTimeout(() => process.kill(-npm.pid!, 'SIGKILL'), 30_000);
    await exited;
    clearTimeout(killer);
    // The store child may outlive npm by a moment (it exits when its parent goes away).
    for (let i = 0; i < 50 && [...sampler.seen.keys()].some((pid) => ownRssMiB(pid) >= 0); i++) await sleep(100);
    rmSync(dataDir, { recursive: true, force: true });
    if (!result) say(`npm start's output: ${readFileSync(logPath, 'utf8').slice(-2000)}`);
    rmSync(logPath, { force: true });
  }
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const rows = result.processes.map(
      (p) => `| ${p.role} | ${p.pid} | ${p.command} | ${p.idleMiB} | ${p.maxMiB} | ${p.maxPssMiB} |`,
    );
    process.stdout.write(
      [
        `${result.devices} light devices on the embedded broker, ${INFLIGHT} notifies in flight each for ${result.seconds} s`,
        '',
        '| process | pid | command | RSS MiB idle | RSS MiB max | PSS MiB max |',
        '|---|---|---|---|---|---|',
        ...rows,
        `| all (sum at one instant) | | | ${result.idleTotalMiB} | ${result.maxTotalMiB} | ${result.maxTotalPssMiB} |`,
        '',
        `registrations/s ${result.registrationsPerSecond} (failed ${result.registrationFailures}), ` +
          `notifications/s ${result.notificationsPerSecond} (failed ${result.notifyFailures}), ` +
          `deregistrations failed ${result.deregistrationFailures}`,
        '',
      ].join('\n'),
    );
  }
  return result.registrationFailures + result.notifyFailures + result.deregistrationFailures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`bench:memory: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
