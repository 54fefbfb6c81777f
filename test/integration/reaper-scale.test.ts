import { reaper, type ReapReport } from '../../functions/reaper';
import { maxDueDelay } from '../../shared/store/due';
import { toSeconds, type DeviceItem } from '../../shared/store/model';
import { createEmbeddedStoreClient, startMemoryStore } from '../../local/embedded-store';
import { makeDeps, type TestDeps, type TestStore } from '../helpers/recorder';

/**
 * The reaper against a pile bigger than one run: 20,000 devices
 * due at once, written straight into the store (no MQTT), removed over successive runs that
 * each stop at their deadline, every one with its devLeaving.
 */
const DEVICES = 20_000;
const LIFETIME = 60;
/** Each run's whole deadline, and the part of it left for what was started before it stops. */
const RUN_MS = 3_000;
const MARGIN_MS = 1_500;

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => {
  // The test store of the other tests, with the local stack's client for it (no HMAC per request):
  // 40,000 writes and 20,000 deletes go faster.
  const server = await startMemoryStore();
  const client = createEmbeddedStoreClient(server.url);
  store = {
    endpoint: server.url,
    client,
    close: async () => {
      client.destroy();
      await server.close();
    },
  };
  deps = await makeDeps(store);
});
afterAll(async () => store.close());

const item = (clientId: string, nowMs: number): DeviceItem => ({
  clientId,
  joinTime: toSeconds(nowMs),
  lifetime: LIFETIME,
  ip: '10.0.0.1',
  mac: `02:00:00:00:${clientId.slice(-4, -2)}:${clientId.slice(-2)}`,
  version: '1',
  objList: { '3303': [0] },
  status: 'online',
  expiresAt: toSeconds(nowMs) + LIFETIME,
  objects: { '3303': { '0': { '5700': 21.5 } } },
});

async function inParallel(count: number, limit: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

test(`${DEVICES} devices due at once are all removed over successive runs, each ending inside its deadline`, async () => {
  const ids = Array.from({ length: DEVICES }, (_, i) => `scale-${String(i).padStart(5, '0')}`);
  const now = deps.clock.now();
  await inParallel(DEVICES, 32, (i) => deps.devices.create(item(ids[i], now), now));
  // Every one of them due (their expiry spread included).
  deps.clock.advance((LIFETIME + maxDueDelay(LIFETIME) + 1) * 1000);

  const runs: Array<{ ms: number; report: ReapReport }> = [];
  // Bounded only so that a reaper that never finishes fails instead of hanging.
  for (let run = 0; run < 1_000; run++) {
    const started = performance.now();
    const report = await reaper(deps, { timeLeftMs: () => RUN_MS - MARGIN_MS - (performance.now() - started) });
    runs.push({ ms: Math.round(performance.now() - started), report });
    if (!report.stoppedEarly) break;
  }
  const times = runs.map((r) => r.ms);
  const removed = runs.map((r) => r.report.expired.length);
  console.log(
    `${DEVICES} due devices reaped in ${runs.length} runs with a ${RUN_MS} ms deadline: ` +
      `${Math.min(...times)}-${Math.max(...times)} ms per run, ${Math.min(...removed)}-${Math.max(...removed)} removed per run, ` +
      `left for the next run ${runs.map((r) => r.report.left).join(' ')}`,
  );

  // Several runs, each inside its deadline; all but the last stopped at it and left work.
  expect(runs.length).toBeGreaterThan(1);
  for (const r of runs) expect(r.ms).toBeLessThanOrEqual(RUN_MS);
  for (const r of runs.slice(0, -1)) expect(r.report.stoppedEarly).toBe(true);
  expect(runs[runs.length - 1].report).toMatchObject({ left: 0, stoppedEarly: false });

  // Every device removed exactly once, each with its devLeaving.
  const expired = runs.flatMap((r) => r.report.expired);
  expect(expired).toHaveLength(DEVICES);
  expect(new Set(expired).size).toBe(DEVICES);
  const leaving = deps.events.of('devLeaving');
  expect(leaving).toHaveLength(DEVICES);
  expect(new Set(leaving.map((e) => e.clientId))).toEqual(new Set(ids));
  expect(await deps.devices.list(0)).toEqual([]);
}, 600_000);
