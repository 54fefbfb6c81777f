import { Hono } from 'hono';
import type { Deps } from '../shared/deps';
import { isValidClientId } from '../shared/protocol/topics';
import { toRecord } from '../shared/store/model';

/**
 * The HTTP management API (DESIGN.md), the same hono app locally and behind API Gateway.
 * JSON in, JSON out; every answer that is not 2xx carries `{error}` with a reason.
 */
export function createApi(deps: Deps): Hono {
  const app = new Hono();

  app.onError((err, c) => {
    deps.log.error({ err, path: c.req.path }, 'api request failed');
    return c.json({ error: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

  app.get('/health', (c) => c.json({ ok: true }));

  app.get('/devices', async (c) => c.json(await deps.store.listDevices(deps.clock.now())));

  app.get('/devices/:id', async (c) => {
    const id = c.req.param('id');
    if (!isValidClientId(id)) return c.json({ error: 'invalid clientId' }, 400);
    const device = await deps.store.getDevice(id, deps.clock.now());
    return device ? c.json(toRecord(device)) : c.json({ error: `device ${id} is not registered` }, 404);
  });

  app.get('/devices/:id/objects', async (c) => {
    const id = c.req.param('id');
    if (!isValidClientId(id)) return c.json({ error: 'invalid clientId' }, 400);
    const device = await deps.store.getDevice(id, deps.clock.now());
    return device ? c.json(device.objects ?? {}) : c.json({ error: `device ${id} is not registered` }, 404);
  });

  return app;
}

type LambdaHandler = (event: unknown, context: unknown) => Promise<unknown>;
let lambdaHandler: LambdaHandler | undefined;

/** API Gateway entry; the AWS glue is loaded only when Lambda calls it. */
export async function handler(event: unknown, context: unknown): Promise<unknown> {
  if (!lambdaHandler) {
    const { handle } = await import('hono/aws-lambda');
    const { depsFromEnv } = await import('./lambda/runtime');
    lambdaHandler = handle(createApi(depsFromEnv())) as unknown as LambdaHandler;
  }
  return lambdaHandler(event, context);
}
