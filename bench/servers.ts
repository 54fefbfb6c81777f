import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startMosquitto, type MosquittoProcess } from '../test/helpers/mosquitto';
import { freePort } from '../test/helpers/ports';

/** A server under test, in its own process, and how devices and the benchmark reach it. */
export interface ServerUnderTest {
  name: string;
  mqttUrl: string;
  apiUrl: string;
  pid: number;
  stop(): Promise<void>;
}

const ROOT = resolve(__dirname, '..');
const CACHE = join(ROOT, '.bench-cache', 'mqtt-shepherd-0.7.7');

/** package.json's start script: `node`, Node's flags, the entry. */
function startScript(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string, ms = 60_000): Promise<void> {
  return new Promise((ok, fail) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`${what} did not start within ${ms} ms: ${seen.slice(-500)}`)), ms);
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (seen += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${what} exited with ${code}: ${seen.slice(-500)}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((ok) => {
    if (child.exitCode !== null) return ok();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      ok();
    });
    child.kill('SIGTERM');
  });
}

/** Ours: Mosquitto plus `local/start.ts` (bridge, API, reaper; its store in a second process), run as `npm start` runs it. */
export async function startOurs(): Promise<ServerUnderTest> {
  const broker: MosquittoProcess = await startMosquitto(['allow_anonymous true', 'max_connections -1']);
  const httpPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'lwmqn-bench-'));
  // The server's log goes to a file: an undrained pipe would block the server once it fills.
  const logFile = openSync(join(dataDir, 'server.log'), 'w');
  // LWMQN_BENCH_PROFILE=DIR writes a V8 CPU profile of our server's main thread and of its store
  // thread on exit (local/embedded-store.ts passes the profiling flags on).
  const profile = process.env.LWMQN_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LWMQN_BENCH_PROFILE}`] : [];
  // What `npm start` runs (package.json: node, its flags, local/launch.cjs). A profile names each
  // function's file and line only when each file is a script of its own: a profiled server runs
  // under tsx (esbuild's output per file, where local/launch.cjs makes one script of them all).
  const [, ...started] = startScript().split(' ');
  const flags = started.filter((arg) => arg.startsWith('--'));
  const entry = profile.length > 0 ? ['--require', 'tsx/cjs', 'local/start.ts'] : started.filter((arg) => !arg.startsWith('--'));
  const child = spawn(process.execPath, [...flags, ...profile, ...entry], {
    cwd: ROOT,
    env: {
      ...process.env,
      MQTT_URL: broker.url,
      LWMQN_DATA_DIR: dataDir,
      HTTP_PORT: String(httpPort),
      LWMQN_BRIDGE_ID: `bench-bridge-${process.pid}`,
      LOG_LEVEL: 'warn',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', logFile, logFile],
  });
  // pino writes JSON lines; the ready line is logged at info, so poll /health instead.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`our server exited with ${child.exitCode}; see ${dataDir}/server.log`);
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('our server did not become healthy within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: 'lwmqn-server',
    mqttUrl: broker.url,
    apiUrl: `http://127.0.0.1:${httpPort}`,
    pid: child.pid!,
    stop: async () => {
      await stopChild(child);
      await broker.stop();
      // The run's store and log are of no use after it (LWMQN_BENCH_KEEP keeps them to look at).
      if (!process.env.LWMQN_BENCH_KEEP) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Installs mqtt-shepherd 0.7.7 into the cache folder once (never into our dependency tree). */
export function ensureReferenceInstalled(log: (line: string) => void): string {
  if (existsSync(join(CACHE, 'node_modules', 'mqtt-shepherd', 'package.json'))) return CACHE;
  log(`installing the reference server mqtt-shepherd@0.7.7 into ${CACHE} (once; not a dependency of ours)`);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(
    join(CACHE, 'package.json'),
    JSON.stringify({
      name: 'lwmqn-bench-reference',
      private: true,
      dependencies: { 'mqtt-shepherd': '0.7.7' },
      // mqtt-shepherd's schema check breaks with newer jsonschema on Node 20.
      overrides: { jsonschema: '1.2.4' },
    }),
  );
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--omit=dev'], { cwd: CACHE, stdio: 'inherit' });
  if (npm.status !== 0) throw new Error('npm install of mqtt-shepherd failed');
  return CACHE;
}

/** The reference: mqtt-shepherd with its embedded broker (it always dials localhost:1883). */
export async function startReference(log: (line: string) => void): Promise<ServerUnderTest> {
  const dir = ensureReferenceInstalled(log);
  const httpPort = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'lwmqn-bench-ref-'));
  const child = spawn(process.execPath, [join(__dirname, 'reference-server.cjs')], {
    cwd: data,
    env: { ...process.env, SHEPHERD_DIR: dir, SHEPHERD_DATA: data, HTTP_PORT: String(httpPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForLine(child, /READY/, 'mqtt-shepherd (is port 1883 free?)');
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    name: 'mqtt-shepherd 0.7.7',
    mqttUrl: 'mqtt://127.0.0.1:1883',
    apiUrl: `http://127.0.0.1:${httpPort}`,
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}
