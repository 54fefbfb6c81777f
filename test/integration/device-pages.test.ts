import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApi } from '../../functions/api';
import { DEFAULT_PAGE } from '../../functions/api-schemas';
import { apiClient } from '../../local/cli/client';
import { makeDeps, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { deviceItem } from '../contract/device-store.contract';

/**
 * GET /devices a page at a time (functions/api.ts): the body stays an array of records, the next
 * page is named by a Link header, and the CLI (local/cli/client.ts `all`) follows every page.
 */
let store: TestStore;
let deps: TestDeps;
let server: ReturnType<typeof serve>;
let base: string;

beforeAll(async () => {
  store = await startTestStore();
  deps = await makeDeps(store);
  server = serve({ fetch: createApi(deps).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((ok) => (server.listening ? ok() : server.once('listening', () => ok())));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
  await store.close();
});

/** Writes `count` registered devices straight into the table, `parallel` at a time. */
async function addDevices(count: number, prefix: string, parallel = 64): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`);
  let next = 0;
  const now = deps.clock.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < ids.length) await deps.devices.create(deviceItem(ids[next++], now), now);
    }),
  );
  return ids;
}

const linkOf = (res: Response) => /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1];

test('a small page names the next one in its Link header; following them gives every device once', async () => {
  const ids = await addDevices(12, 'small');
  const seen: string[] = [];
  let path: string | undefined = '/devices?limit=5';
  let pages = 0;
  while (path) {
    const res = await fetch(`${base}${path}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Array<{ clientId: string }>;
    expect(body.length).toBeLessThanOrEqual(5);
    seen.push(...body.map((d) => d.clientId));
    path = linkOf(res);
    if (path) expect(path).toMatch(/^\/devices\?limit=5&cursor=[A-Za-z0-9_-]+$/);
    pages++;
  }
  expect(pages).toBeGreaterThanOrEqual(3);
  expect(seen.sort()).toEqual(ids);
  // Without a limit, a fleet under the default page size is one page, and no Link.
  const whole = await fetch(`${base}/devices`);
  expect(((await whole.json()) as unknown[]).length).toBe(12);
  expect(whole.headers.get('link')).toBeNull();
});

test.each([
  ['/devices?limit=0', /limit/],
  ['/devices?limit=5001', /limit/],
  ['/devices?limit=ten', /limit/],
  ['/devices?cursor=not-a-cursor', /cursor/],
  ['/devices?page=2', /page/],
])('%s is a 400 with a reason', async (path, reason) => {
  const res = await fetch(`${base}${path}`);
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: string }).error).toMatch(reason);
});

test(`25,000 devices: pages of at most ${DEFAULT_PAGE} by default, and the CLI's client gathers all of them`, async () => {
  const ids = await addDevices(25_000, 'fleet');
  const first = await fetch(`${base}/devices`);
  expect(((await first.json()) as unknown[]).length).toBeLessThanOrEqual(DEFAULT_PAGE);
  expect(linkOf(first)).toBeDefined();

  const all = await apiClient(base).all<{ clientId: string }>('/devices');
  expect(all.status).toBe(200);
  const fleet = all.body.map((d) => d.clientId).filter((id) => id.startsWith('fleet-'));
  expect(fleet.length).toBe(25_000);
  expect(new Set(fleet).size).toBe(25_000);
  expect(fleet.sort()).toEqual(ids);
}, 240_000);
