import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { z } from 'zod';
import type { Deps } from '../shared/deps';
import { DeviceNotRegistered, sendCommand } from '../shared/ops/commands';
import { emitEvent, respond } from '../shared/ops/outbound';
import type { CommandName } from '../shared/protocol/cmd-ids';
import {
  announceBody,
  COMMANDS,
  DEFAULT_PAGE,
  devicesQuery,
  MAX_ANNOUNCE_BYTES,
  MAX_BODY_BYTES,
  permitJoinBody,
} from './api-schemas';
import { parsePath, type Target } from '../shared/protocol/paths';
import { firstProblem, LIMITS } from '../shared/protocol/payload';
import { describeIssue } from '../shared/protocol/schemas';
import { Status } from '../shared/protocol/status';
import { ANNOUNCE_TOPIC, isValidClientId } from '../shared/protocol/topics';
import type { LwmqnEvent } from '../shared/ports';
import { nextPageLink } from '../shared/next-page';
import { BadCursorError } from '../shared/store/devices';
import { toRecord } from '../shared/store/model';
import { numberProblem } from '../shared/store/storable';

/**
 * The HTTP management API (README.md, "Manage your fleet"), the same hono app locally and
 * behind API Gateway. JSON in, JSON out; every answer that is not 2xx carries `{error}` with a reason.
 */
export interface ApiOptions {
  /** The live event stream behind `GET /events`, where the runtime has one. */
  events?: { subscribe(listener: (event: LwmqnEvent) => void): () => void };
  /** Prometheus text for `GET /metrics`, where the runtime keeps its figures in process. */
  metrics?: () => Promise<string>;
  /** When set, every route but `/health` needs `Authorization: Bearer <token>`. */
  token?: string;
  /** What the runtime knows is wrong (broker link down, messages waiting for the store). */
  problems?: () => string[];
  /**
   * The web console's files, served at `/` and `/console/*` without the token (they hold no
   * fleet data: the console asks for the token when the API answers 401). Only the local stack
   * passes it (local/console-assets.ts bundles them), so the Lambda bundle does not carry esbuild.
   */
  console?: () => Promise<ConsoleAssets>;
}

/** The console's page, script and style sheet. */
export interface ConsoleAssets {
  html: string;
  js: string;
  css: string;
}

const CONSOLE_FILES: Record<string, { key: keyof ConsoleAssets; type: string }> = {
  '/': { key: 'html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { key: 'js', type: 'text/javascript; charset=utf-8' },
  '/console/app.css': { key: 'css', type: 'text/css; charset=utf-8' },
};

const HEALTH_PROBE_MS = 2_000;

class BadRequest extends Error {}

export function createApi(deps: Deps, options: ApiOptions = {}): Hono {
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof BadRequest || err instanceof BadCursorError) return c.json({ error: err.message }, 400);
    if (err instanceof DeviceNotRegistered) return c.json({ error: `device ${err.message} is not registered` }, 404);
    deps.log.error({ err, path: c.req.path }, 'api request failed');
    return c.json({ error: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

  app.use('*', async (c, next) => {
    const consoleFile = c.req.method === 'GET' ? CONSOLE_FILES[c.req.path] : undefined;
    if (consoleFile && options.console) {
      const assets = await options.console();
      return c.body(assets[consoleFile.key], 200, { 'content-type': consoleFile.type, 'cache-control': 'no-cache' });
    }
    // /health for probes; the API's description holds no fleet data, and the console links to it.
    const open = c.req.path === '/health' || c.req.path === '/openapi.json';
    if (options.token && !open && c.req.header('authorization') !== `Bearer ${options.token}`) {
      return c.json({ error: 'missing or wrong bearer token' }, 401);
    }
    await next();
  });

  app.get('/health', async (c) => {
    const problems = [...(options.problems?.() ?? [])];
    let left: number | undefined;
    try {
      left = await withTimeout(joinTimeLeft(deps), HEALTH_PROBE_MS);
    } catch (err) {
      problems.push(`store unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const body = { ok: problems.length === 0, join: deps.config.join, joinTimeLeft: left ?? null };
    return problems.length === 0 ? c.json(body) : c.json({ ...body, status: 'degraded', problems }, 503);
  });

  app.get('/openapi.json', (c) => {
    // Loaded on first use: zod-to-openapi and the document's registry are most of what the API
    // function would otherwise evaluate at every cold start, for a route a person calls rarely.
    // require(), not import(): under `node --require tsx/cjs` an import() of a .ts file fails.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { openApiDocument } = require('./openapi') as typeof import('./openapi');
    return c.json(openApiDocument());
  });

  app.get('/metrics', async (c) => {
    if (!options.metrics) return c.json({ error: 'metrics go to CloudWatch here (embedded metric format)' }, 501);
    return c.text(await options.metrics(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  // Paged: the body stays an array of records; the next page's address is in the Link header (RFC 8288).
  app.get('/devices', async (c) => {
    const { limit = DEFAULT_PAGE, cursor } = parseBody(devicesQuery, c.req.query());
    const page = await deps.devices.page(deps.clock.now(), limit, cursor);
    if (page.next) c.header('link', nextPageLink(`/devices?limit=${limit}&cursor=${page.next}`));
    return c.json(page.devices);
  });

  app.get('/devices/:id', async (c) => {
    const device = await deps.devices.get(clientIdOf(c), deps.clock.now());
    return device ? c.json(toRecord(device)) : notRegistered(c);
  });

  app.get('/devices/:id/objects', async (c) => {
    const device = await deps.devices.get(clientIdOf(c), deps.clock.now());
    return device ? c.json(device.objects ?? {}) : notRegistered(c);
  });

  app.delete('/devices/:id', async (c) => {
    const id = clientIdOf(c);
    const removed = await deps.devices.remove(id, deps.clock.now());
    if (!removed) return notRegistered(c);
    await Promise.all([respond(deps, 'deregister', id, 0, Status.Deleted), emitEvent(deps, 'devLeaving', id, removed.mac)]);
    return c.json({ clientId: id, removed: true });
  });

  app.post('/devices/:id/:command', async (c) => {
    const id = clientIdOf(c);
    const spec = COMMANDS[c.req.param('command')];
    if (!spec) {
      throw new BadRequest(`unknown command ${c.req.param('command')}; one of ${Object.keys(COMMANDS).join(', ')}`);
    }
    const body = parseBody(spec.body, await readJson(c, spec.cmd === 'ping')) as Record<string, unknown> | undefined;
    const target = spec.needs === 'none' ? null : targetOf(body?.path, spec.needs);
    const data = commandData(spec.cmd, body);
    const answer = await sendCommand(deps, id, spec.cmd, target, data);
    if (answer.status === Status.Timeout) return c.json({ status: Status.Timeout, error: 'the device did not answer in time' }, 504);
    return c.json({ status: answer.status, data: answer.data ?? null });
  });

  app.post('/announce', async (c) => {
    const { message } = parseBody(announceBody, await readJson(c));
    if (Buffer.byteLength(message) > MAX_ANNOUNCE_BYTES) throw new BadRequest(`message is over ${MAX_ANNOUNCE_BYTES} bytes`);
    await deps.publisher.publish(ANNOUNCE_TOPIC, message);
    return c.json({ ok: true });
  });

  app.post('/permit-join', async (c) => {
    const { seconds } = parseBody(permitJoinBody, await readJson(c));
    await deps.settings.setJoinUntilMs(deps.clock.now() + seconds * 1000);
    return c.json({ joinTimeLeft: seconds });
  });

  app.get('/events', (c) => {
    const source = options.events;
    if (!source) return c.json({ error: 'no event stream here; subscribe to MQTT lwmqn/events/#' }, 501);
    return streamSSE(c, async (stream) => {
      const queue: LwmqnEvent[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = source.subscribe((event) => {
        queue.push(event);
        wake?.();
      });
      stream.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      await stream.writeSSE({ event: 'ready', data: '{}' });
      while (!stream.aborted) {
        const event = queue.shift();
        if (event) {
          await stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
          continue;
        }
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, 15_000); // a comment line keeps proxies from closing an idle stream
        });
        clearTimeout(timer);
        wake = undefined;
        if (queue.length === 0 && !stream.aborted) await stream.write(': keep-alive\n\n');
      }
      unsubscribe();
    });
  });

  return app;
}

function clientIdOf(c: Context): string {
  const id = c.req.param('id') ?? '';
  if (!isValidClientId(id)) throw new BadRequest('invalid clientId: 1-128 characters without / + # or control characters');
  return id;
}

const notRegistered = (c: Context) => c.json({ error: `device ${c.req.param('id')} is not registered` }, 404);

async function readJson(c: Context, optional = false): Promise<unknown> {
  const text = await c.req.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new BadRequest(`body is over ${MAX_BODY_BYTES} bytes`);
  if (text.trim() === '') {
    if (optional) return undefined;
    throw new BadRequest('a JSON body is required');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequest('body is not JSON');
  }
  const problem = checkBody(body);
  if (problem) throw new BadRequest(problem);
  return body;
}

/**
 * What a device or the store could not take: a number the store cannot hold (JSON.parse makes
 * 1e999 Infinity; shared/store/storable.ts), or nesting deeper than the channel handlers accept
 * (the device's answer echoing it would be refused).
 */
function checkBody(root: unknown): string | undefined {
  return firstProblem(root, (node, depth) => {
    if (typeof node === 'number') return numberProblem(node);
    if (node !== null && typeof node === 'object' && depth > LIMITS.maxDepth) {
      return `body nested deeper than ${LIMITS.maxDepth} levels`;
    }
    return undefined;
  });
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new BadRequest(describeIssue(parsed.error));
  return parsed.data;
}

function targetOf(path: unknown, needs: 'oid' | 'iid' | 'rid'): Target {
  const target = parsePath(path);
  if (!target) throw new BadRequest('path must be oid[/iid[/rid]] with numbers or IPSO names');
  if (needs === 'iid' && target.iid === undefined) throw new BadRequest('this command needs at least oid/iid');
  if (needs === 'rid' && target.rid === undefined) throw new BadRequest('this command needs a resource path oid/iid/rid');
  return target;
}

function commandData(cmd: CommandName, body: Record<string, unknown> | undefined): unknown {
  switch (cmd) {
    case 'write':
      return body!.value;
    case 'writeAttrs':
      return body!.attrs;
    case 'execute':
      return body!.args ?? [];
    case 'observe':
      return { option: body!.cancel ? 1 : 0 };
    default:
      return undefined;
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function joinTimeLeft(deps: Deps): Promise<number> {
  const left = (await deps.settings.getJoinUntilMs()) - deps.clock.now();
  return left > 0 ? Math.ceil(left / 1000) : 0;
}

type LambdaHandler = (event: unknown, context: unknown) => Promise<unknown>;
let lambdaHandler: LambdaHandler | undefined;

/** API Gateway entry; the AWS glue is loaded only when Lambda calls it. */
export async function handler(event: unknown, context: unknown): Promise<unknown> {
  if (!lambdaHandler) {
    const { handle } = await import('hono/aws-lambda');
    const { depsFromEnv } = await import('./lambda/runtime');
    lambdaHandler = handle(createApi(await depsFromEnv(), { token: process.env.LWMQN_API_TOKEN })) as unknown as LambdaHandler;
  }
  try {
    return await lambdaHandler(event, context);
  } finally {
    const { flushMetrics } = await import('./lambda/runtime');
    flushMetrics();
  }
}
