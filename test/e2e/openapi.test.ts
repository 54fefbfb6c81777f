import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import { createApi } from '../../functions/api';
import { COMMANDS } from '../../functions/api-schemas';
import { apiRoutes } from '../../functions/openapi';
import { http, startWorld, type E2eNode, type E2eWorld, type HttpAnswer } from '../helpers/mqtt-node';

/**
 * GET /openapi.json describes every route the API serves, and the real answers of a running
 * stack with a real mqtt-node device match the answer schemas the document is made from.
 */
let world: E2eWorld;
let dev: E2eNode;
const ID = 'oa-1';

beforeAll(async () => {
  world = await startWorld({ LWMQN_REQUEST_TIMEOUT_MS: '2000' });
  dev = await world.node(ID);
});
afterAll(async () => world?.close());
jest.setTimeout(60_000);

const call = (method: string, path: string, body?: unknown) => http(world.stack.apiUrl, method, path, body);

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}

test('the document is OpenAPI 3.1 and lists exactly the routes the app serves', async () => {
  const { status, body } = await call('GET', '/openapi.json');
  expect(status).toBe(200);
  const doc = body as OpenApiDoc;
  expect(doc.openapi).toBe('3.1.0');
  const documented = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
  // The app's own route table, `:param` written as `{param}` and the command route expanded.
  const served = createApi(world.stack.deps)
    .routes.filter((r) => r.method !== 'ALL')
    .flatMap((r) => {
      const path = r.path.replace(/:(\w+)/g, '{$1}');
      return path === '/devices/{id}/{command}'
        ? Object.keys(COMMANDS).map((c) => `${r.method} /devices/{id}/${c}`)
        : [`${r.method} ${path}`];
    })
    .sort();
  expect(documented).toEqual(served);
});

/** The zod schema the document gives for this answer (the same object it was generated from). */
function answerSchema(method: string, path: string, status: number): z.ZodType {
  const route = apiRoutes().find((r: RouteConfig) => r.method === method && r.path === path);
  if (!route) throw new Error(`${method} ${path} is not documented`);
  const response = route.responses[status] as { content?: Record<string, { schema: z.ZodType }> } | undefined;
  const schema = response?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`${method} ${path} documents no JSON answer ${status}`);
  return schema;
}

async function matches(method: string, docPath: string, realPath: string, body?: unknown): Promise<HttpAnswer> {
  const answer = await call(method.toUpperCase(), realPath, body);
  const parsed = answerSchema(method, docPath, answer.status).safeParse(answer.body);
  if (!parsed.success)
    throw new Error(`${method} ${realPath} ${answer.status} ${JSON.stringify(answer.body)}: ${parsed.error.message}`);
  return answer;
}

test('real answers match the documented answers, successes and failures alike', async () => {
  expect((await matches('get', '/health', '/health')).status).toBe(200);
  expect((await matches('get', '/devices', '/devices')).status).toBe(200);
  expect((await matches('get', '/devices/{id}', `/devices/${ID}`)).status).toBe(200);
  expect((await matches('get', '/devices/{id}', '/devices/nobody')).status).toBe(404);
  expect((await matches('get', '/devices/{id}/objects', `/devices/${ID}/objects`)).status).toBe(200);
  expect(
    (await matches('post', '/devices/{id}/read', `/devices/${ID}/read`, { path: 'temperature/0/sensorValue' })).body.status,
  ).toBe(205);
  expect((await matches('post', '/devices/{id}/read', `/devices/${ID}/read`, { path: '9999/0' })).body.status).toBe(404);
  expect((await matches('post', '/devices/{id}/read', `/devices/${ID}/read`, { nopath: 1 })).status).toBe(400);
  expect((await matches('post', '/devices/{id}/write', `/devices/${ID}/write`, { path: '3311/0/5850', value: true })).status).toBe(
    200,
  );
  expect(
    (await matches('post', '/devices/{id}/write-attrs', `/devices/${ID}/write-attrs`, { path: '3303/0/5700', attrs: { pmin: 1 } }))
      .status,
  ).toBe(200);
  expect((await matches('post', '/devices/{id}/discover', `/devices/${ID}/discover`, { path: '3303' })).status).toBe(200);
  expect((await matches('post', '/devices/{id}/execute', `/devices/${ID}/execute`, { path: '3303/0/5700' })).body.status).toBe(405);
  expect((await matches('post', '/devices/{id}/observe', `/devices/${ID}/observe`, { path: '3303/0/5700' })).status).toBe(200);
  expect((await matches('post', '/devices/{id}/ping', `/devices/${ID}/ping`)).status).toBe(200);
  expect((await matches('post', '/announce', '/announce', { message: 'hello' })).status).toBe(200);
  expect((await matches('post', '/permit-join', '/permit-join', { seconds: 5 })).status).toBe(200);
  expect((await matches('post', '/permit-join', '/permit-join', { seconds: -1 })).status).toBe(400);
  expect((await matches('get', '/openapi.json', '/openapi.json')).status).toBe(200);
  // A device that stays silent: 504 with the protocol's 408.
  await dev.close();
  expect((await matches('post', '/devices/{id}/ping', `/devices/${ID}/ping`)).status).toBe(504);
  expect((await matches('delete', '/devices/{id}', `/devices/${ID}`)).status).toBe(200);
  expect((await matches('delete', '/devices/{id}', `/devices/${ID}`)).status).toBe(404);
});
