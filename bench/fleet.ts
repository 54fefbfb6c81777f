/**
 * The fleet benchmark: starts the server in its own process (Mosquitto + `local/start.ts`, as
 * `npm start` runs it),
 * connects N simulated devices and measures, in order:
 *   1. registrations/s for a burst of N new devices registering at once, the median of
 *      `--rounds` bursts (after one uncounted warm-up burst),
 *   2. notifications/s and p50/p99 latency with a fixed number in flight per device,
 *   3. remote reads/s and p50/p99 through the HTTP API,
 *   (each of 2 and 3 after `--warmup` seconds of the same load that are not counted),
 *   4. the server process's resident memory.
 * `--compare` measures the reference server (mqtt-shepherd 0.7.7) the same way in the same run;
 * the two servers take turns burst by burst in phase 1. `--ceiling` adds to phase 1 a responder
 * that stores nothing (bench/ceiling-server.ts): the most the devices themselves allow.
 *
 *   npm run bench -- [--devices 25] [--client mqtt-node|light] [--rounds 5] [--inflight 2]
 *                    [--seconds 10] [--warmup 2] [--reads 5000] [--read-concurrency 25]
 *                    [--compare] [--ceiling] [--json] [--timeline]
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { makeDevice, type BenchDevice, type ClientKind } from './devices';
import { startCeiling } from './ceiling-server';
import { startOurs, startReference, type ServerUnderTest } from './servers';
import { cpuSeconds, median, Progress, round, rssMiB, summarize } from './stats';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '25' },
    client: { type: 'string', default: 'mqtt-node' },
    rounds: { type: 'string' },
    inflight: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    reads: { type: 'string', default: '5000' },
    'read-concurrency': { type: 'string', default: '25' },
    compare: { type: 'boolean', default: false },
    ceiling: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    timeline: { type: 'boolean', default: false },
  },
});

const opts = {
  devices: Number(values.devices),
  client: values.client as ClientKind,
  // One burst of a few dozen devices moves by up to a fifth between bursts (the devices' own
  // work dominates it); a burst of hundreds is its own average.
  rounds: Number(values.rounds ?? (Number(values.devices) <= 100 ? 5 : 1)),
  inflight: Number(values.inflight),
  seconds: Number(values.seconds),
  warmup: Number(values.warmup),
  reads: Number(values.reads),
  readConcurrency: Number(values['read-concurrency']),
};
if (!['mqtt-node', 'light'].includes(opts.client)) throw new Error('--client is mqtt-node or light');
if (!(opts.warmup >= 0)) throw new Error('--warmup is a number of seconds, 0 or more');
if (!Number.isInteger(opts.rounds) || opts.rounds < 1) throw new Error('--rounds is a whole number, 1 or more');

interface Result {
  server: string;
  client: ClientKind;
  devices: number;
  warmupSeconds: number;
  /** The median of the rounds. */
  registrationsPerSecond: number;
  registrationRounds: number[];
  registrationFailures: number;
  notificationsPerSecond: number;
  notifyP50Ms: number;
  notifyP99Ms: number;
  notifyFailures: number;
  /** CPU per counted notification, in µs: the server's main thread, and its other threads and children (ours: the store thread). */
  notifyCpuUs: { main: number; other: number };
  /** Notifications/s in the first 3 counted seconds over the rate of the rest (1 = no cold start). */
  firstSecondsShare: number;
  readsPerSecond: number;
  readP50Ms: number;
  readP99Ms: number;
  readFailures: number;
  serverRssMiB: number;
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Devices in the uncounted registration burst that precedes the timed ones. */
const WARMUP_BURST = 100;

/** The largest resident memory seen of each server, sampled throughout its phases. */
const rssBy = new Map<string, number>();
/** How many of the times (ms from the start of counting) fall in each second. */
function perSecond(doneAt: number[]): number[] {
  const counts: number[] = [];
  for (const t of doneAt) counts[Math.floor(t / 1000)] = (counts[Math.floor(t / 1000)] ?? 0) + 1;
  return Array.from(counts, (n) => n ?? 0);
}

/** --timeline: the CPU % used in each second by the server's main thread, its other threads and children (ours: the store thread), and this benchmark process. */
function startCpuTimeline(pid: number): { stop: () => string[] } {
  const seconds: string[] = [];
  let last = { ...cpuSeconds(pid), bench: process.cpuUsage() };
  const timer = setInterval(() => {
    const now = { ...cpuSeconds(pid), bench: process.cpuUsage() };
    const bench = (now.bench.user + now.bench.system - last.bench.user - last.bench.system) / 1e6;
    seconds.push(
      `${Math.round((now.main - last.main) * 100)}/${Math.round((now.other - last.other) * 100)}/${Math.round(bench * 100)}`,
    );
    last = now;
  }, 1000);
  return {
    stop: () => {
      clearInterval(timer);
      return seconds;
    },
  };
}

function sampleRss(server: ServerUnderTest): void {
  rssBy.set(server.name, Math.max(rssBy.get(server.name) ?? 0, rssMiB(server.pid) || 0));
}

/**
 * Whatever each client does before it can register. Light devices connect 500 at a time:
 * 10,000 at once from one process is a connect storm the broker does not answer within a
 * minute, before the server sees anything.
 */
async function prepareAll(devices: BenchDevice[]): Promise<void> {
  for (let i = 0; i < devices.length; i += 500) await Promise.all(devices.slice(i, i + 500).map((d) => d.prepare()));
  // mqtt-node's preparation shells out; its last child processes are still exiting.
  await sleep(200);
}

/** Every device registers at once, timed from when every client is ready to send its register. */
async function burst(devices: BenchDevice[], label: string): Promise<{ seconds: number; failures: number }> {
  const progress = new Progress(label, devices.length);
  let registered = 0;
  let failures = 0;
  const start = performance.now();
  await Promise.all(
    devices.map(async (d) => {
      const status = await d.register();
      if (status !== 201 && status !== 200) failures++;
      progress.tick(++registered);
    }),
  );
  return { seconds: (performance.now() - start) / 1000, failures };
}

interface Registrations {
  rates: number[];
  failures: number;
}

/**
 * Phase 1 for every server: one uncounted warm-up burst (unless `--warmup 0`), then `--rounds`
 * timed bursts, each of new devices that deregister afterwards. The servers take turns burst by
 * burst and the one that goes first changes each round, so that the machine's drift (its speed
 * moves by up to a fifth within minutes) falls on both alike.
 */
async function measureRegistrations(servers: ServerUnderTest[]): Promise<Map<string, Registrations>> {
  const out = new Map<string, Registrations>(servers.map((s) => [s.name, { rates: [], failures: 0 }]));
  const rounds = opts.warmup > 0 ? opts.rounds + 1 : opts.rounds;
  for (let r = 0; r < rounds; r++) {
    const warm = opts.warmup > 0 && r === 0;
    const size = warm ? Math.min(opts.devices, WARMUP_BURST) : opts.devices;
    for (let k = 0; k < servers.length; k++) {
      const server = servers[(r + k) % servers.length];
      const result = out.get(server.name)!;
      const devices = Array.from({ length: size }, (_, i) =>
        makeDevice(opts.client, `bench-${opts.client}-r${r}-${i}`, server.mqttUrl),
      );
      try {
        await prepareAll(devices);
        const label = warm
          ? `${server.name}: warm-up burst`
          : `${server.name}: burst ${r + (opts.warmup > 0 ? 0 : 1)}/${opts.rounds}`;
        const timed = await burst(devices, label);
        sampleRss(server);
        result.failures += timed.failures;
        if (!warm) result.rates.push(round(size / timed.seconds));
        await Promise.all(devices.map((d) => d.deregister()));
      } finally {
        for (const d of devices) d.close();
      }
      // The server's own follow-up of the burst (events, deregistrations) settles first.
      await sleep(300);
    }
  }
  return out;
}

type Load = Omit<Result, 'registrationsPerSecond' | 'registrationRounds'>;

/** Phases 2 and 3 for one server, on devices that register (untimed) first. */
async function measureLoad(server: ServerUnderTest): Promise<Load> {
  const sample = () => sampleRss(server);
  const devices: BenchDevice[] = Array.from({ length: opts.devices }, (_, i) =>
    makeDevice(opts.client, `bench-${opts.client}-${i}`, server.mqttUrl),
  );
  try {
    await prepareAll(devices);
    const { failures: regFailures } = await burst(devices, `${server.name}: registering`);
    sample();

    // 2. notifications, `inflight` outstanding per device for `seconds`
    const latencies: number[] = [];
    let notifyFailures = 0;
    // The first `warmup` seconds run the same load but are not counted: both servers start
    // with cold code paths (JIT) that a long-running server has long left behind.
    const total = opts.warmup + opts.seconds;
    const notifyProgress = new Progress(`${server.name}: notifying`, total);
    const warmUntil = performance.now() + opts.warmup * 1000;
    const until = warmUntil + opts.seconds * 1000;
    const ticker = setInterval(() => {
      notifyProgress.tick(Math.min(total, Math.round(total - (until - performance.now()) / 1000)));
      sample();
    }, 250);
    const cpuTimeline = values.timeline ? startCpuTimeline(server.pid) : undefined;
    let value = 0;
    // CPU is read when counting starts and when it ends, for the per-notify cost of each process.
    let cpuAtStart = cpuSeconds(server.pid);
    const cpuTimer = setTimeout(() => (cpuAtStart = cpuSeconds(server.pid)), opts.warmup * 1000);
    const doneAt: number[] = [];
    await Promise.all(
      devices.flatMap((d) =>
        Array.from({ length: opts.inflight }, async () => {
          while (performance.now() < until) {
            const t0 = performance.now();
            const status = await d.notify(++value);
            if (status !== 204)
              notifyFailures++; // failures count during the warm-up too
            else if (t0 >= warmUntil) {
              const now = performance.now();
              latencies.push(now - t0);
              doneAt.push(now - warmUntil);
            }
          }
        }),
      ),
    );
    clearInterval(ticker);
    const notifyCpu = cpuTimeline?.stop() ?? [];
    notifyProgress.tick(total);
    const notifySeconds = opts.seconds + Math.max(0, (performance.now() - until) / 1000);
    const notify = summarize(latencies);
    clearTimeout(cpuTimer);
    const cpuAtEnd = cpuSeconds(server.pid);
    const perNotifyUs = (a: number, b: number) => Math.round(((b - a) / Math.max(1, latencies.length)) * 1e6);
    const notifyCpuUs = {
      main: perNotifyUs(cpuAtStart.main, cpuAtEnd.main),
      other: perNotifyUs(cpuAtStart.other, cpuAtEnd.other),
    };
    if (values.timeline) {
      say(`notifies per counted second: ${perSecond(doneAt).join(' ')}`);
      say(`CPU % per second from the first notify, main thread/other threads/benchmark: ${notifyCpu.join(' ')}`);
    }
    const FIRST_MS = 3000;
    const early = doneAt.filter((t) => t < FIRST_MS).length;
    const restSeconds = notifySeconds - FIRST_MS / 1000;
    const firstSecondsShare =
      restSeconds > 0 ? round(early / (FIRST_MS / 1000) / ((latencies.length - early) / restSeconds), 2) : NaN;

    // 3. remote reads through the HTTP API
    const readLatencies: number[] = [];
    let readFailures = 0;
    let next = 0;
    const readProgress = new Progress(`${server.name}: remote reads`, opts.reads);
    const readWarmUntil = performance.now() + opts.warmup * 1000;
    let warmReads = 0;
    // node:http with keep-alive rather than fetch: the benchmark process runs the devices too,
    // and fetch's per-request cost made it the bottleneck of this phase for both servers.
    const agent = new http.Agent({ keepAlive: true, maxSockets: opts.readConcurrency });
    const readCpuTimeline = values.timeline ? startCpuTimeline(server.pid) : undefined;
    const readDoneAt: number[] = [];
    await Promise.all(
      Array.from({ length: opts.readConcurrency }, async () => {
        for (;;) {
          const t0 = performance.now();
          const measured = t0 >= readWarmUntil;
          if (measured && next >= opts.reads) break;
          const i = measured ? next++ : warmReads++;
          try {
            const res = await postJson(agent, `${server.apiUrl}/devices/${devices[i % devices.length].clientId}/read`, {
              path: '3303/0/5700',
            });
            const body = res.body as { status: number };
            if (res.status !== 200 || body.status !== 205) readFailures++;
            else if (measured) {
              const now = performance.now();
              readLatencies.push(now - t0);
              readDoneAt.push(now - readWarmUntil);
            }
          } catch {
            readFailures++;
          }
          if (measured) readProgress.tick(i + 1);
        }
      }),
    );
    const readSeconds = (performance.now() - readWarmUntil) / 1000;
    const readCpu = readCpuTimeline?.stop() ?? [];
    if (values.timeline) {
      say(`reads per counted second: ${perSecond(readDoneAt).join(' ')}`);
      say(`CPU % per second from the first read (warm-up included), main thread/other threads/benchmark: ${readCpu.join(' ')}`);
    }
    agent.destroy();
    sample();
    const reads = summarize(readLatencies);

    return {
      server: server.name,
      client: opts.client,
      devices: devices.length,
      warmupSeconds: opts.warmup,
      registrationFailures: regFailures,
      notificationsPerSecond: Math.round(latencies.length / notifySeconds),
      notifyP50Ms: notify.p50,
      notifyP99Ms: notify.p99,
      notifyFailures,
      notifyCpuUs,
      firstSecondsShare,
      readsPerSecond: Math.round(readLatencies.length / readSeconds),
      readP50Ms: reads.p50,
      readP99Ms: reads.p99,
      readFailures,
      serverRssMiB: rssBy.get(server.name) ?? NaN,
    };
  } finally {
    for (const d of devices) d.close();
  }
}

function printTable(results: Result[]): void {
  const rows: Array<[string, (r: Result) => string]> = [
    ['devices (client)', (r) => `${r.devices} (${r.client})`],
    [`registrations/s (burst, median of ${opts.rounds})`, registrationCell],
    ['warm-up before notify and read counts', () => `${opts.warmup} s`],
    [`notifications/s (${opts.inflight} in flight/device)`, (r) => `${r.notificationsPerSecond} (${r.notifyFailures} failed)`],
    ['notify latency p50 / p99', (r) => `${r.notifyP50Ms} / ${r.notifyP99Ms} ms`],
    ["first 3 counted s, share of the rest's rate", (r) => `${Math.round(r.firstSecondsShare * 100)} %`],
    ['CPU per notify: main thread / other threads', (r) => `${r.notifyCpuUs.main} / ${r.notifyCpuUs.other} µs`],
    [`remote reads/s (${opts.readConcurrency} in flight)`, (r) => `${r.readsPerSecond} (${r.readFailures} failed)`],
    ['read latency p50 / p99', (r) => `${r.readP50Ms} / ${r.readP99Ms} ms`],
    ['server RSS (max, with its store)', (r) => `${r.serverRssMiB} MiB`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const colWidth = Math.max(...results.map((r) => r.server.length), ...results.flatMap((r) => rows.map(([, f]) => f(r).length)));
  console.log(`${''.padEnd(width)}  ${results.map((r) => r.server.padEnd(colWidth)).join('  ')}`);
  for (const [label, f] of rows) console.log(`${label.padEnd(width)}  ${results.map((r) => f(r).padEnd(colWidth)).join('  ')}`);
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const starters = [startOurs, ...(values.compare ? [() => startReference(say)] : []), ...(values.ceiling ? [startCeiling] : [])];
  const running = new Set<ServerUnderTest>();
  const start = async (starter: () => Promise<ServerUnderTest>) => {
    const server = await starter();
    running.add(server);
    return server;
  };
  const stop = async (server: ServerUnderTest) => {
    running.delete(server);
    await server.stop();
  };
  try {
    // Phase 1 with every server up, taking turns.
    const servers: ServerUnderTest[] = [];
    for (const starter of starters) servers.push(await start(starter));
    const registrations = await measureRegistrations(servers);
    for (const server of servers) await stop(server);
    // Phases 2 and 3 on each server afresh and alone (the ceiling has none: it stores nothing).
    const results: Result[] = [];
    for (const starter of starters.slice(0, values.compare ? 2 : 1)) {
      const server = await start(starter);
      const load = await measureLoad(server);
      await stop(server);
      const reg = registrationsOf(registrations.get(server.name)!);
      results.push({ ...load, ...reg, registrationFailures: reg.registrationFailures + load.registrationFailures });
    }
    const ceiling = values.ceiling ? registrationsOf(registrations.get(servers[servers.length - 1].name)!) : undefined;
    if (values.json) console.log(JSON.stringify({ options: opts, results, ...(ceiling ? { ceiling } : {}) }, null, 2));
    else {
      printTable(results);
      if (ceiling) console.log(`client ceiling (a responder that stores nothing): ${registrationCell(ceiling)} registrations/s`);
    }
    if (results.some((r) => r.server === 'lwmqn-server' && r.registrationFailures + r.notifyFailures + r.readFailures > 0)) {
      process.exitCode = 1;
    }
  } finally {
    for (const server of running) await stop(server);
  }
}

function registrationsOf(reg: Registrations) {
  return { registrationsPerSecond: median(reg.rates), registrationRounds: reg.rates, registrationFailures: reg.failures };
}

function registrationCell(r: Pick<Result, 'registrationsPerSecond' | 'registrationRounds' | 'registrationFailures'>): string {
  const spread =
    r.registrationRounds.length > 1 ? `${Math.min(...r.registrationRounds)}-${Math.max(...r.registrationRounds)}, ` : '';
  return `${r.registrationsPerSecond} (${spread}${r.registrationFailures} failed)`;
}

main().then(
  () => process.exit(),
  (err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

function postJson(agent: http.Agent, url: string, payload: unknown): Promise<{ status: number; body: unknown }> {
  const data = JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
