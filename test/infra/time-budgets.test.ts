import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { DEFAULT_SETTINGS } from '../../infra/settings';
import { CLEAN_END_MS, LwmqnStack } from '../../infra/stack';
import { callLimits } from '../../shared/call-budget';
import { ensureTable } from '../../shared/store/table/definition';
import { startHungServer, type HungServer } from '../helpers/hung-server';
import { startIotDataEndpoint, type IotDataEndpoint } from '../helpers/iot-data-endpoint';
import { startTestStore, type TestStore } from '../helpers/recorder';

/**
 * The functions' time budgets, on their real artifacts: the stack is synthesized with its
 * bundles (as `cdk synth` builds them), and each bundle runs in a fresh Node process with the
 * environment the template gives it, against a store or data endpoint that accepts connections
 * and never answers. Every invocation must end, with a clean error or a 500, before the timeout
 * the template gives its function.
 */
interface Fn {
  bundle: string;
  timeoutMs: number;
  env: Record<string, string>;
}

let outdir: string;
let fns: { api: Fn; notify: Fn; ping: Fn };
let hungStore: HungServer;
let hungIot: IotDataEndpoint;
let iot: IotDataEndpoint;
let store: TestStore;
const tableName = `budgets_${process.pid}`;
const run = promisify(execFile);

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'lwmqn-budgets-'));
  const app = new App({ outdir });
  const stack = new LwmqnStack(app, 'LwmqnBudgets', {
    settings: { ...DEFAULT_SETTINGS, iotEndpoint: 'example-ats.iot.us-east-1.amazonaws.com' },
  });
  const json = app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, any> };
  const fnOf = (construct: { node: { defaultChild?: unknown } }): Fn => {
    const props = json.Resources[stack.getLogicalId(construct.node.defaultChild as never)].Properties;
    const env = Object.fromEntries(
      Object.entries(props.Environment.Variables as Record<string, unknown>).filter(([, v]) => typeof v === 'string'),
    ) as Record<string, string>;
    const asset = `asset.${String(props.Code.S3Key).replace(/\.zip$/, '')}`;
    return { bundle: join(outdir, asset, 'index.js'), timeoutMs: Number(props.Timeout) * 1000, env };
  };
  fns = { api: fnOf(stack.apiFunction), notify: fnOf(stack.channelFunctions.notify), ping: fnOf(stack.channelFunctions.ping) };
  [hungStore, hungIot, iot, store] = await Promise.all([
    startHungServer(),
    startIotDataEndpoint({ answer: false }),
    startIotDataEndpoint(),
    startTestStore(),
  ]);
  await ensureTable(store.client, tableName);
}, 120_000);

afterAll(async () => {
  await Promise.all([hungStore?.close(), hungIot?.close(), iot?.close(), store?.close()]);
  rmSync(outdir, { recursive: true, force: true });
});

interface Outcome {
  ms: number;
  result?: { statusCode?: number; body?: string };
  error?: string;
}

/** Runs one invocation of a bundle in a fresh Node process, as a cold Lambda container would. */
async function invoke(fn: Fn, event: unknown, endpoints: { store: string; iot: string }): Promise<Outcome> {
  const script = `
    const { handler } = require(${JSON.stringify(fn.bundle)});
    // Lambda's timeout counts from the invocation; loading the bundle is the init phase before it.
    const started = performance.now();
    const context = { awsRequestId: 'test', getRemainingTimeInMillis: () => ${fn.timeoutMs} };
    handler(${JSON.stringify(event)}, context).then(
      (result) => process.stdout.write(JSON.stringify({ ms: performance.now() - started, result })),
      (err) => process.stdout.write(JSON.stringify({ ms: performance.now() - started, error: String(err && err.name) })),
    );`;
  const env = {
    ...fn.env,
    PATH: process.env.PATH,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    TABLE_NAME: tableName,
    DYNAMODB_ENDPOINT: endpoints.store,
    IOT_DATA_ENDPOINT: endpoints.iot,
    LOG_LEVEL: 'silent',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  // Past Lambda's own limit the process is killed (and the test fails), as Lambda would.
  const { stdout } = await run(process.execPath, ['-e', script], { env, timeout: fn.timeoutMs + 5_000 });
  return JSON.parse(stdout) as Outcome;
}

/** What an HTTP API (payload format 2.0) hands the API function. */
const apiEvent = (method: string, path: string, body?: unknown) => ({
  version: '2.0',
  routeKey: '$default',
  rawPath: path,
  rawQueryString: '',
  headers: { host: 'api.example', 'content-type': 'application/json' },
  requestContext: {
    accountId: '123456789012',
    apiId: 'api',
    domainName: 'api.example',
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
    requestId: 'r1',
    routeKey: '$default',
    stage: '$default',
    time: '04/Dec/2026:00:00:00 +0000',
    timeEpoch: 0,
  },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  isBase64Encoded: false,
});

const ruleEvent = (topic: string, payload: unknown) => ({
  payload: Buffer.from(JSON.stringify(payload)).toString('base64'),
  topic,
  mqttClientId: topic.slice(topic.indexOf('/') + 1),
  receivedAt: Date.now(),
});

test('the template budgets every call inside its function timeout, with room to end cleanly', () => {
  for (const fn of Object.values(fns)) {
    const limits = callLimits(Number(fn.env.LWMQN_CALL_BUDGET_MS));
    expect(limits.maxAttempts * limits.attemptTimeoutMs + (limits.maxAttempts - 1) * limits.pauseMs).toBeLessThanOrEqual(
      limits.budgetMs,
    );
    expect(limits.budgetMs).toBeLessThan(fn.timeoutMs / 2);
  }
  // The API waits for a device's answer, then may make two more calls: both fit after the wait.
  const api = Number(fns.api.env.LWMQN_CALL_BUDGET_MS);
  expect(Number(fns.api.env.LWMQN_REQUEST_TIMEOUT_MS) + 2 * api).toBeLessThan(fns.api.timeoutMs);
});

test('a hung store: GET /devices/<id> answers 500, and a notify fails, before their functions time out', async () => {
  const before = hungStore.connections();
  const [api, notify] = await Promise.all([
    invoke(fns.api, apiEvent('GET', '/devices/dev-1'), { store: hungStore.url, iot: iot.url }),
    invoke(fns.notify, ruleEvent('notify/dev-1', { transId: 1, oid: 3303, iid: 0, rid: 5700, data: 1 }), {
      store: hungStore.url,
      iot: iot.url,
    }),
  ]);
  expect(api.result?.statusCode).toBe(500);
  expect(api.ms).toBeLessThan(fns.api.timeoutMs - CLEAN_END_MS);
  expect(notify.error).toBe('TimeoutError');
  expect(notify.ms).toBeLessThan(fns.notify.timeoutMs - CLEAN_END_MS);
  // Both reached the store and were retried there, within the bound.
  expect(hungStore.connections() - before).toBeGreaterThanOrEqual(4);
}, 60_000);

test('a hung data endpoint: POST /announce answers 500, and a ping fails, before their functions time out', async () => {
  const published = hungIot.reset();
  const [api, ping] = await Promise.all([
    invoke(fns.api, apiEvent('POST', '/announce', { message: 'hello' }), { store: store.endpoint, iot: hungIot.url }),
    // Not registered: the answer is a 404, published to the endpoint that never answers.
    invoke(fns.ping, ruleEvent('ping/dev-2', { transId: 1 }), { store: store.endpoint, iot: hungIot.url }),
  ]);
  expect(api.result?.statusCode).toBe(500);
  expect(api.ms).toBeLessThan(fns.api.timeoutMs - CLEAN_END_MS);
  expect(ping.error).toBe('TimeoutError');
  expect(ping.ms).toBeLessThan(fns.ping.timeoutMs - CLEAN_END_MS);
  expect(published.published.filter((p) => p.topic === 'announce').map((p) => p.payload)).toContain('hello');
  expect(published.on('ping/response/dev-2')[0]).toEqual({ transId: 1, status: 404 });
}, 60_000);
