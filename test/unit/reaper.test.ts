import { ping } from '../../functions/ping';
import { REAPER_CONCURRENCY, reaper } from '../../functions/reaper';
import { register } from '../../functions/register';
import { answerReads, registerBody, registerDevice } from '../helpers/devices';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { dueDelay, maxDueDelay } from '../../shared/store/due';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

const device = (id: string) => deps.devices.get(id, deps.clock.now());
const leaving = () => deps.events.of('devLeaving').map((e) => [e.clientId, e.data]);
const NOTHING = { expired: [], failedRegistrations: [], offline: [], left: 0, stoppedEarly: false };
/** To the first second the reaper finds `id`, registered now with `lifetime`, due (shared/store/due.ts). */
const pastDue = (id: string, lifetime = 600) => deps.clock.advance((lifetime + dueDelay(id, lifetime) + 1) * 1000);

test('with nothing to do it reports nothing', async () => {
  await registerDevice(deps, 'n1');
  expect(await reaper(deps)).toEqual(NOTHING);
  expect(deps.events.events).toEqual([]);
  expect(await device('n1')).not.toBeNull();
});

test('a device whose lifetime ran out is removed and devLeaving carries its mac', async () => {
  await registerDevice(deps, 'n1', { mac: 'AA:00:00:00:00:0A' });
  pastDue('n1');
  const report = await reaper(deps);
  expect(report.expired).toEqual(['n1']);
  expect(leaving()).toEqual([['n1', 'aa:00:00:00:00:0a']]);
  // Gone for good, even for a reader that does not apply the expiry rule.
  expect(await deps.devices.get('n1', 0)).toBeNull();
  expect(deps.publisher.published).toEqual([]);
});

test('a device is alive up to the last second of its lifetime', async () => {
  await registerDevice(deps, 'n1');
  deps.clock.advance(600_000);
  expect((await reaper(deps)).expired).toEqual([]);
  expect(await device('n1')).not.toBeNull();
});

test('a device renewed just before its lifetime ran out is kept', async () => {
  await registerDevice(deps, 'n1');
  deps.clock.advance(599_000);
  await ping(message('ping/n1', { transId: 1 }), deps);
  deps.clock.advance(2_000);
  expect((await reaper(deps)).expired).toEqual([]);
  expect(await device('n1')).not.toBeNull();
  expect(leaving()).toEqual([]);
});

test('a device expired up to a tenth of its lifetime ago is gone for readers, and the reaper removes it only then', async () => {
  expect(dueDelay('n1', 600)).toBeGreaterThan(0);
  await registerDevice(deps, 'n1');
  deps.clock.advance((600 + dueDelay('n1', 600)) * 1000);
  expect(await device('n1')).toBeNull();
  expect(await reaper(deps)).toEqual(NOTHING);
  deps.clock.advance(1_000);
  expect((await reaper(deps)).expired).toEqual(['n1']);
});

test("a device registering again between the reaper's look-up and its delete wins: removal is conditional", async () => {
  const first = await registerDevice(deps, 'n1');
  pastDue('n1');
  const list = deps.devices.expiredIds.bind(deps.devices);
  jest.spyOn(deps.devices, 'expiredIds').mockImplementation(async function* (now, pageSize) {
    for await (const page of list(now, pageSize)) {
      // Its new registration lands after the reaper read the index.
      await deps.devices.create({ ...first, expiresAt: Math.floor(now / 1000) + 600 }, now);
      yield page;
    }
  });
  const report = await reaper(deps);
  expect(report.expired).toEqual([]);
  expect(leaving()).toEqual([]);
  expect(await device('n1')).not.toBeNull();
});

test('only the expired devices go; a second run finds nothing more', async () => {
  await registerDevice(deps, 'short', { lifetime: 60 });
  await registerDevice(deps, 'long', { lifetime: 6_000 });
  await registerDevice(deps, 'short2', { lifetime: 120 });
  deps.clock.advance((120 + maxDueDelay(120) + 1) * 1000);
  expect((await reaper(deps)).expired.sort()).toEqual(['short', 'short2']);
  expect(await device('long')).not.toBeNull();
  expect(await reaper(deps)).toEqual(NOTHING);
  expect(
    leaving()
      .map(([id]) => id)
      .sort(),
  ).toEqual(['short', 'short2']);
});

test('a reaped device that pings is told 404', async () => {
  await registerDevice(deps, 'n1');
  pastDue('n1');
  await reaper(deps);
  await ping(message('ping/n1', { transId: 2 }), deps);
  expect(deps.publisher.on('ping/response/n1')).toEqual([{ transId: 2, status: 404 }]);
});

test('a registration whose reads stall past the request timeout is failed with 500, once', async () => {
  await register(message('register/n1', registerBody({ transId: 3 })), deps);
  deps.clock.advance(9_000);
  expect((await reaper(deps)).failedRegistrations).toEqual([]);
  deps.clock.advance(2_000);
  expect((await reaper(deps)).failedRegistrations).toEqual(['n1']);
  expect(await reaper(deps)).toEqual(NOTHING);
  expect(deps.publisher.on('register/response/n1')).toEqual([{ transId: 3, status: 500 }]);
  await answerReads(deps, 'n1');
  expect(await device('n1')).toBeNull();
});

test('a stalled objList update is failed with 500 and the device keeps its old tree', async () => {
  const before = await registerDevice(deps, 'n1');
  const { update } = await import('../../functions/update');
  await update(message('update/n1', { transId: 4, objList: { '3': [0] } }), deps);
  deps.clock.advance(11_000);
  expect((await reaper(deps)).failedRegistrations).toEqual(['n1']);
  expect(deps.publisher.on('update/response/n1')).toEqual([{ transId: 4, status: 500 }]);
  const after = await device('n1');
  expect(after?.objects).toEqual(before.objects);
  expect(after?.objList).toEqual(before.objList);
});

test(`thousands of expiries are worked through at most ${REAPER_CONCURRENCY} at once, every one of them`, async () => {
  const ids = Array.from({ length: 60 }, (_, i) => `bulk-${i}`);
  for (const id of ids) await registerDevice(deps, id);
  deps.clock.advance((600 + maxDueDelay(600) + 1) * 1000);
  const reap = deps.devices.reap.bind(deps.devices);
  let running = 0;
  let most = 0;
  jest.spyOn(deps.devices, 'reap').mockImplementation(async (id, now) => {
    running++;
    most = Math.max(most, running);
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return await reap(id, now);
    } finally {
      running--;
    }
  });
  const report = await reaper(deps);
  expect(report.expired.sort()).toEqual([...ids].sort());
  expect(most).toBe(REAPER_CONCURRENCY);
});

test('a run stops starting work at its deadline, says how many it left, and the next run goes on from there', async () => {
  const ids = Array.from({ length: 60 }, (_, i) => `cut-${i}`);
  for (const id of ids) await registerDevice(deps, id);
  deps.clock.advance((600 + maxDueDelay(600) + 1) * 1000);
  const reap = jest.spyOn(deps.devices, 'reap');
  const list = deps.devices.expiredIds.bind(deps.devices);
  let read = 0;
  jest.spyOn(deps.devices, 'expiredIds').mockImplementation(async function* (now, pageSize) {
    for await (const page of list(now, pageSize)) {
      read += page.length;
      yield page;
    }
  });
  // The deadline passes once 25 removals have started.
  const first = await reaper(deps, { timeLeftMs: () => 25 - reap.mock.calls.length });
  expect(reap).toHaveBeenCalledTimes(25);
  expect(first.expired).toHaveLength(25);
  // Left: the ones read but not started; the index was not read to its end (4 shards, a page each).
  expect(read).toBeLessThan(60);
  expect(first).toMatchObject({ left: read - 25, stoppedEarly: true });
  const second = await reaper(deps, { timeLeftMs: () => 1 });
  expect(second).toMatchObject({ left: 0, stoppedEarly: false });
  expect([...first.expired, ...second.expired].sort()).toEqual([...ids].sort());
  expect(
    leaving()
      .map(([id]) => id)
      .sort(),
  ).toEqual([...ids].sort());
});

test('a run whose deadline has passed reads no index at all', async () => {
  await registerDevice(deps, 'n1');
  pastDue('n1');
  const expiredIds = jest.spyOn(deps.devices, 'expiredIds');
  const overdue = jest.spyOn(deps.registrations, 'overdue');
  expect(await reaper(deps, { timeLeftMs: () => 0 })).toEqual({ ...NOTHING, stoppedEarly: true });
  expect(expiredIds).not.toHaveBeenCalled();
  expect(overdue).not.toHaveBeenCalled();
  expect((await reaper(deps)).expired).toEqual(['n1']);
});
