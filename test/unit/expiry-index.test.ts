import { ping } from '../../functions/ping';
import { reaper } from '../../functions/reaper';
import { update } from '../../functions/update';
import { registerDevice } from '../helpers/devices';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';

// The expiry index is keyed on `dueAt`, which notifies do not move; these prove the reaper still
// removes exactly the devices whose lifetime ran out.
let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

test('a renewed device outlives its first due time and is reaped when the renewed lifetime ends', async () => {
  await registerDevice(deps, 'dev-a', { lifetime: 60 });
  deps.clock.advance(50_000);
  await ping(message('ping/dev-a', { transId: 1 }), deps);
  deps.clock.advance(20_000); // past the first expiry, inside the renewed one
  expect((await reaper(deps)).expired).toEqual([]);
  expect(await deps.devices.get('dev-a', deps.clock.now())).not.toBeNull();
  deps.clock.advance(45_000);
  expect((await reaper(deps)).expired).toEqual(['dev-a']);
  expect(deps.events.of('devLeaving').map((e) => e.clientId)).toEqual(['dev-a']);
});

test('a shortened lifetime brings the reaper forward', async () => {
  await registerDevice(deps, 'dev-b', { lifetime: 86_400 });
  await update(message('update/dev-b', { transId: 2, lifetime: 10 }), deps);
  deps.clock.advance(12_000);
  expect((await reaper(deps)).expired).toEqual(['dev-b']);
});

test('the listing reads the current expiry, not the one the index was written with', async () => {
  await registerDevice(deps, 'dev-c', { lifetime: 60 });
  deps.clock.advance(30_000);
  await ping(message('ping/dev-c', { transId: 3 }), deps);
  const [listed] = await deps.devices.list(deps.clock.now());
  expect(listed.clientId).toBe('dev-c');
  expect(listed.expiresAt).toBe(Math.floor(deps.clock.now() / 1000) + 60);
  deps.clock.advance(61_000);
  expect(await deps.devices.list(deps.clock.now())).toEqual([]);
});
