import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { LwmqnEvent } from '../../shared/ports';
import type { ObjectTree } from '../../shared/store/model';
import { addAccount, generatePassword, type AccountKind } from '../accounts';
import { DEFAULT_BRIDGE_ID } from '../broker-policy';
import { apiClient, ApiError, type ApiAnswer, type ApiClient } from './client';
import { regionOfApiUrl, startConsoleProxy } from './console-proxy';
import { keyValues, statusText, table } from './format';
import { objectLines } from './objects';

/**
 * `lwmqn`: the management API from a terminal. Tables for people, `--json` for scripts; the
 * exit code is non-zero when the API refuses or the device answers with an error status.
 */
const program = new Command();
program
  .name('lwmqn')
  .description("Manage an LWMQN fleet through the server's HTTP API")
  .option('--api <url>', 'management API', process.env.LWMQN_API || 'http://localhost:8080')
  .option('--token <token>', 'bearer token (LWMQN_API_TOKEN)', process.env.LWMQN_API_TOKEN)
  .option('--json', "print the API's JSON instead of tables")
  .showHelpAfterError();

const opts = () => program.opts<{ api: string; token?: string; json?: boolean }>();
const api = (): ApiClient => apiClient(opts().api, opts().token);
const enc = encodeURIComponent;

/** A field of an answer's body, whatever the body is (a JSON object, an array, text or null). */
const field = (body: unknown, key: string): unknown =>
  typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;

/** Prints the answer and fails on any error status, the device's included. */
function show<T>(res: ApiAnswer<T>, human: (body: T) => string): void {
  if (opts().json) console.log(JSON.stringify(res.body, null, 2));
  if (res.status >= 400) {
    // An error answer is `{ error: string }`.
    const reason = (field(res.body, 'error') as string | undefined) ?? JSON.stringify(res.body);
    throw new ApiError(`${statusText(res.status)}: ${reason}`, 1);
  }
  if (!opts().json) console.log(human(res.body));
  const status = field(res.body, 'status');
  if (typeof status === 'number' && status >= 400) process.exitCode = 1;
}

/** A device's answer to a command, as the API passes it on. */
interface DeviceAnswer {
  status: number;
  data: unknown;
}

const deviceAnswer = (body: DeviceAnswer) =>
  body.data === null || body.data === undefined
    ? statusText(body.status)
    : `${statusText(body.status)}\n${JSON.stringify(body.data, null, 2)}`;

/** A command-line value: JSON when it parses as JSON, else the text itself. */
function value(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function jsonArg(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new ApiError(`${what} must be JSON, e.g. '{"pmin":1,"pmax":60}'`, 1);
  }
}

program
  .command('start')
  .description('run the local stack (what npm start does)')
  .action(() => {
    // The one way the server starts (local/launch.cjs); bin/lwmqn.js calls it before loading tsx
    // when `start` comes alone, so this runs only for a start with more on its line.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('../launch.cjs') as { launch(): void }).launch();
  });

program
  .command('devices')
  .description('list registered devices')
  .action(async () => {
    const now = Date.now() / 1000;
    const all = await api().all<Record<string, unknown> & { clientId: string; expiresAt: number }>('/devices');
    // Pages are sorted each on its own; the whole list is sorted here.
    if (Array.isArray(all.body)) all.body.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    show(all, (rows) =>
      rows.length === 0
        ? 'no devices registered'
        : table(
            rows.map((d) => ({ ...d, expiresIn: `${Math.max(0, Math.round(d.expiresAt - now))}s` })),
            ['clientId', 'status', 'ip', 'mac', 'lifetime', 'expiresIn'],
          ),
    );
  });

program
  .command('device <id>')
  .description("show one device's record")
  .action(async (id: string) => show(await api().call<Record<string, unknown>>('GET', `/devices/${enc(id)}`), keyValues));

program
  .command('objects <id>')
  .description("show one device's stored objects: IPSO names, ids, values with units (--json: the raw tree)")
  .action(async (id: string) => show(await api().call<ObjectTree>('GET', `/devices/${enc(id)}/objects`), objectLines));

for (const cmd of ['read', 'discover'] as const) {
  program
    .command(`${cmd} <id> <path>`)
    .description(`${cmd} an object, instance or resource (numbers or IPSO names: temperature/0/sensorValue)`)
    .action(async (id: string, path: string) =>
      show(await api().call<DeviceAnswer>('POST', `/devices/${enc(id)}/${cmd}`, { path }), deviceAnswer),
    );
}

program
  .command('write <id> <path> <value>')
  .description('write a resource (value as JSON, or text)')
  .action(async (id: string, path: string, raw: string) =>
    show(await api().call<DeviceAnswer>('POST', `/devices/${enc(id)}/write`, { path, value: value(raw) }), deviceAnswer),
  );

program
  .command('write-attrs <id> <path> <attrs>')
  .description('set report attributes, e.g. \'{"pmin":1,"pmax":60}\'')
  .action(async (id: string, path: string, raw: string) =>
    show(
      await api().call<DeviceAnswer>('POST', `/devices/${enc(id)}/write-attrs`, { path, attrs: jsonArg(raw, 'attrs') }),
      deviceAnswer,
    ),
  );

program
  .command('execute <id> <path> [args]')
  .description('execute a resource, with an optional JSON array of arguments')
  .action(async (id: string, path: string, raw?: string) =>
    show(
      await api().call<DeviceAnswer>('POST', `/devices/${enc(id)}/execute`, {
        path,
        ...(raw ? { args: jsonArg(raw, 'args') } : {}),
      }),
      deviceAnswer,
    ),
  );

program
  .command('observe <id> <path>')
  .description('start (or with --cancel stop) notifications of a target')
  .option('--cancel', 'stop observing')
  .action(async (id: string, path: string, o: { cancel?: boolean }) =>
    show(await api().call<DeviceAnswer>('POST', `/devices/${enc(id)}/observe`, { path, cancel: !!o.cancel }), deviceAnswer),
  );

program
  .command('ping <id>')
  .description('ping a device')
  .action(async (id: string) => show(await api().call<DeviceAnswer>('POST', `/devices/${enc(id)}/ping`), deviceAnswer));

program
  .command('announce <text>')
  .description('broadcast a text to every device')
  .action(async (text: string) => show(await api().call('POST', '/announce', { message: text }), () => 'announced'));

program
  .command('permit-join <seconds>')
  .description('let new devices register for this many seconds (0 closes)')
  .action(async (raw: string) => {
    const seconds = Number(raw);
    if (!Number.isInteger(seconds) || seconds < 0) throw new ApiError('seconds must be a whole number >= 0', 1);
    show(
      await api().call<{ joinTimeLeft: number }>('POST', '/permit-join', { seconds }),
      (b) => `join permitted for ${b.joinTimeLeft}s`,
    );
  });

program
  .command('remove <id>')
  .description('remove a device (it is told it was deregistered)')
  .action(async (id: string) => show(await api().call('DELETE', `/devices/${enc(id)}`), () => `removed ${id}`));

program
  .command('events')
  .description('tail the live event stream')
  .action(async () => {
    const res = await api().stream('/events');
    if (!res.ok || !res.body) throw new ApiError(`${statusText(res.status)}: ${await res.text()}`, 1);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('\n');
        if (!data || data === '{}') continue;
        const event = JSON.parse(data) as LwmqnEvent;
        if (opts().json) console.log(JSON.stringify(event));
        else
          console.log(
            `${new Date(event.timestamp).toISOString()}  ${event.type.padEnd(11)}  ${event.clientId}  ${JSON.stringify(event.data)}`,
          );
      }
    }
  });

program
  .command('console')
  .description('serve the web console on this machine for the API at --api (a cloud API: calls signed with SigV4)')
  .option('--port <port>', 'where the console listens', '8090')
  .option('--host <host>', 'the address it listens on', '127.0.0.1')
  .option('--region <region>', 'sign calls with SigV4 for this region (default: read from an execute-api URL)')
  .option('--no-sign', 'send calls unsigned (an API that is not behind IAM)')
  .action(async (o: { port: string; host: string; region?: string; sign: boolean }) => {
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ApiError(`--port must be a port number, not ${o.port}`, 1);
    let apiUrl: URL;
    try {
      apiUrl = new URL(opts().api);
    } catch {
      throw new ApiError(`--api must be a URL, not ${opts().api}`, 1);
    }
    const region = o.sign ? (o.region ?? regionOfApiUrl(apiUrl.href) ?? process.env.AWS_REGION) : undefined;
    if (o.sign && region === undefined && apiUrl.hostname.endsWith('amazonaws.com')) {
      throw new ApiError('--region is needed to sign the calls (or set AWS_REGION)', 1);
    }
    // A local API (no region known, not an AWS host) is not behind IAM: its calls go unsigned.
    const proxy = await startConsoleProxy({ api: apiUrl.href, host: o.host, port, region, token: opts().token });
    console.log(`web console for ${apiUrl.origin} at ${proxy.url}${region ? ` (calls signed with SigV4, ${region})` : ''}`);
    const stop = () => void proxy.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

// A reader that stops early (`lwmqn events | head`) closes the pipe: that ends the command, quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

/**
 * The embedded broker's accounts (LWMQN_USERS_FILE, docs/SECURITY.md): written to the file
 * directly, no server needed; a running broker uses them at the next connect.
 */
function accountCommand(kind: AccountKind, usage: string, what: string): void {
  program
    .command(usage)
    .description(what)
    .option('--password <password>', 'the password; "-" reads it from stdin; default: a generated one, printed once')
    .option('--users-file <path>', 'the accounts file (LWMQN_USERS_FILE)', process.env.LWMQN_USERS_FILE)
    .action(async (name: string, o: { password?: string; usersFile?: string }) => {
      if (!o.usersFile) throw new ApiError('no accounts file: pass --users-file or set LWMQN_USERS_FILE', 1);
      const generated = o.password === undefined;
      const password = generated
        ? generatePassword()
        : o.password === '-'
          ? readFileSync(0, 'utf8').replace(/\r?\n$/, '')
          : o.password!;
      const reserved = [...new Set([DEFAULT_BRIDGE_ID, process.env.LWMQN_BRIDGE_ID || DEFAULT_BRIDGE_ID])];
      let result: 'added' | 'changed';
      try {
        result = await addAccount(o.usersFile, name, kind, password, reserved);
      } catch (err) {
        throw new ApiError((err as Error).message, 1);
      }
      console.log(`${result === 'added' ? 'added' : 'new password for'} ${kind} account ${name} in ${o.usersFile}`);
      if (generated) console.log(`password: ${password}`);
    });
}
accountCommand(
  'device',
  'add-device <clientId>',
  "add a device account to the embedded broker's accounts file (username = clientId)",
);
accountCommand('app', 'add-app <name>', 'add an application account that may read the events (lwmqn/events/#)');

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ApiError) {
    console.error(`lwmqn: ${err.message}`);
    process.exit(err.exitCode);
  }
  console.error(`lwmqn: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
