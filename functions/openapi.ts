import { OpenApiGeneratorV31, OpenAPIRegistry, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  announceBody,
  commandAnswer,
  COMMANDS,
  deviceRecord,
  devicesQuery,
  errorAnswer,
  healthAnswer,
  objectTree,
  okAnswer,
  permitJoinAnswer,
  permitJoinBody,
  removedAnswer,
  timeoutAnswer,
} from './api-schemas';

/**
 * The OpenAPI 3.1 description of the management API (`GET /openapi.json`), made from the same
 * zod schemas functions/api.ts validates with (functions/api-schemas.ts).
 */
const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const failures = {
  400: json(errorAnswer, 'malformed request; `error` says why'),
  401: json(errorAnswer, 'missing or wrong bearer token (when LWMQN_API_TOKEN is set)'),
};
const id = z.object({ id: z.string().describe('the device clientId') });
const notRegistered = json(errorAnswer, 'the device is not registered');

/** Every route of functions/api.ts with its request and answer schemas. */
export function apiRoutes(): RouteConfig[] {
  const commands: RouteConfig[] = Object.entries(COMMANDS).map(([name, spec]) => ({
    method: 'post',
    path: `/devices/{id}/${name}`,
    summary: spec.summary,
    tags: ['device commands'],
    request: { params: id, body: { content: { 'application/json': { schema: spec.body } }, required: name !== 'ping' } },
    responses: {
      200: json(commandAnswer, "the device's answer, with its own status"),
      ...failures,
      404: notRegistered,
      504: json(timeoutAnswer, 'the device did not answer within LWMQN_REQUEST_TIMEOUT_MS'),
    },
  }));
  return [
    {
      method: 'get',
      path: '/health',
      summary: 'Whether the server, its broker link and its store work (no token needed)',
      tags: ['server'],
      responses: { 200: json(healthAnswer, 'all is well'), 503: json(healthAnswer, 'degraded: `problems` says what') },
    },
    {
      method: 'get',
      path: '/devices',
      summary: 'The registered devices, a page at a time',
      tags: ['devices'],
      request: { query: devicesQuery },
      responses: {
        200: {
          ...json(z.array(deviceRecord), 'one page of records, sorted by clientId within the page'),
          headers: {
            link: {
              description: 'the next page, `</devices?limit=N&cursor=C>; rel="next"`; absent on the last page',
              schema: { type: 'string' },
            },
          },
        },
        ...failures,
      },
    },
    {
      method: 'get',
      path: '/devices/{id}',
      summary: 'One device',
      tags: ['devices'],
      request: { params: id },
      responses: { 200: json(deviceRecord, 'its record'), ...failures, 404: notRegistered },
    },
    {
      method: 'get',
      path: '/devices/{id}/objects',
      summary: "One device's stored object tree",
      tags: ['devices'],
      request: { params: id },
      responses: { 200: json(objectTree, 'the tree'), ...failures, 404: notRegistered },
    },
    {
      method: 'delete',
      path: '/devices/{id}',
      summary: 'Remove a device (it is told 202 on deregister/response, devLeaving is emitted)',
      tags: ['devices'],
      request: { params: id },
      responses: { 200: json(removedAnswer, 'removed'), ...failures, 404: notRegistered },
    },
    ...commands,
    {
      method: 'post',
      path: '/announce',
      summary: 'Publish a text on `announce` to every device',
      tags: ['fleet'],
      request: { body: { content: { 'application/json': { schema: announceBody } }, required: true } },
      responses: { 200: json(okAnswer, 'published'), ...failures },
    },
    {
      method: 'post',
      path: '/permit-join',
      summary: 'Let unknown clients register for `seconds` (LWMQN_JOIN=permit)',
      tags: ['fleet'],
      request: { body: { content: { 'application/json': { schema: permitJoinBody } }, required: true } },
      responses: { 200: json(permitJoinAnswer, 'the window is open'), ...failures },
    },
    {
      method: 'get',
      path: '/events',
      summary: 'The live event stream (server-sent events; each event named by its type)',
      tags: ['events'],
      responses: {
        200: {
          description: 'text/event-stream of {type, clientId, data, timestamp}',
          content: { 'text/event-stream': { schema: z.string() } },
        },
        ...failures,
        501: json(errorAnswer, 'no event stream in this runtime: subscribe to MQTT lwmqn/events/#'),
      },
    },
    {
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics: messages, answers, handler and store latency, commands, devices by status, the bridge backlog',
      tags: ['server'],
      responses: {
        200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
        ...failures,
        501: json(errorAnswer, 'not in this runtime: the cloud writes CloudWatch metrics (embedded metric format)'),
      },
    },
    {
      method: 'get',
      path: '/openapi.json',
      summary: 'This document (no token needed)',
      tags: ['server'],
      responses: {
        200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: z.object({}).passthrough() } } },
      },
    },
  ];
}

let cached: object | undefined;

export function openApiDocument(): object {
  if (cached) return cached;
  const registry = new OpenAPIRegistry();
  for (const route of apiRoutes()) registry.registerPath(route);
  const components = registry.definitions;
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  cached = new OpenApiGeneratorV31(components).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'LWMQN server management API',
      version: '1',
      description: 'Devices, their objects and commands, fleet actions and live events. See README.md, "Manage your fleet".',
    },
    security: [{ bearer: [] }],
  });
  return cached;
}
