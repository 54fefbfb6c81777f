import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { eventually } from './poll';

/**
 * The server started the way a user starts it: a shell command line run from the repository
 * root (`npm start`, `node local/launch.cjs`, ...), in a process group of its
 * own so that a test can signal it as a terminal or a supervisor would and kill what is left.
 */
export const ROOT = resolve(__dirname, '../..');

export interface ServerProcess {
  child: ChildProcess;
  /** stdout and stderr, interleaved as they came. */
  output(): string;
  stderr(): string;
  /** The pino lines of stdout, parsed. */
  logs(): Array<{ level: number; msg: string; [k: string]: unknown }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the exit, or rejects after `timeoutMs`. */
  exit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to the whole group (afterAll). */
  kill(): void;
}

const running = new Set<ServerProcess>();

/** The environment a documented command gets: the caller's, minus settings a developer's shell may carry. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (/^(MQTT_|DYNAMODB_|LWMQN_|HTTP_|TABLE_NAME$)/.test(k)) delete env[k];
  // The SDK's notice that future releases need Node 22 would be one more stderr paragraph.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return { ...env, ...extra };
}

/** Runs `command` with bash from the repository root. */
export function runCommand(command: string, env: NodeJS.ProcessEnv, cwd = ROOT): ServerProcess {
  // bash runs a single simple command with exec: the signal a test sends reaches that process.
  const child = spawn('bash', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => ((output += d), (stdout += d)));
  child.stderr.on('data', (d) => ((output += d), (stderr += d)));
  // 'exit' can come before the last output has been read: wait for the pipes to close too. Under
  // `npm start`, npm may exit on Ctrl-C while its node child is still shutting down and logging,
  // which takes seconds on a loaded machine; a grandchild that never lets go must not hold the
  // test forever.
  const closed = new Promise<void>((ok) => child.once('close', () => ok()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('exit', (code, signal) => {
      void Promise.race([closed, new Promise((wait) => setTimeout(wait, 15_000))]).then(() => ok({ code, signal }));
    }),
  );
  const server: ServerProcess = {
    child,
    output: () => output,
    stderr: () => stderr,
    logs: () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l)];
          } catch {
            return [];
          }
        }),
    exited,
    exit: (timeoutMs) =>
      Promise.race([
        exited,
        new Promise<never>((_, fail) =>
          setTimeout(() => fail(new Error(`\`${command}\` still running after ${timeoutMs} ms:\n${output}`)), timeoutMs),
        ),
      ]),
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
  running.add(server);
  void exited.then(() => running.delete(server));
  return server;
}

/** Kills every process group started here that is still running (for afterAll). */
export function killAll(): void {
  for (const s of running) s.kill();
}

/** Waits until GET `url`/health answers `status` (bounded), failing early if the process exits. */
export async function waitForHealth(server: ServerProcess, url: string, status = 200, timeoutMs = 60_000): Promise<any> {
  return eventually(
    async () => {
      if (server.child.exitCode !== null)
        throw new Error(`exited with ${server.child.exitCode} before its API answered:\n${server.output()}`);
      const res = await fetch(`${url}/health`);
      expect(res.status).toBe(status);
      return res.json();
    },
    { timeoutMs, intervalMs: 100 },
  ).catch((err) => {
    throw new Error(`${(err as Error).message}\n--- output:\n${server.output()}`);
  });
}
