import { MemoryRegistrationStore } from '../../local/memory-registrations';
import type { PendingRegistration } from '../../shared/store/model';
import { allPages } from '../helpers/pages';

const T0 = 1_700_000_000_000;

function discovery(clientId: string, expiresAtMs: number): PendingRegistration {
  return {
    clientId,
    purpose: 'register',
    clientTransId: 7,
    attrs: { lifetime: 3600, ip: '127.0.0.1', mac: '02:00:00:00:00:01', version: '1' },
    changed: [],
    objList: { '1': [0] },
    regId: `reg-${clientId}`,
    reads: { '100': '1' },
    answers: {},
    remaining: 1,
    expiresAt: Math.ceil(expiresAtMs / 1000),
  };
}

test('a grace moment later than the deadline holds the discovery: a late answer still counts', async () => {
  let grace = 0;
  const store = new MemoryRegistrationStore(() => grace);
  await store.start(discovery('a', T0 + 10_000), T0);
  grace = T0 + 25_000;
  const late = T0 + 20_000;
  expect(await allPages(store.overdue(late, 10))).toEqual([]);
  expect(await store.get('a', late)).not.toBeNull();
  const answered = await store.recordAnswer('a', 100, { status: 205, data: { 0: {} } }, late);
  expect(answered?.remaining).toBe(0);
  expect(await allPages(store.overdue(T0 + 26_000, 10))).toEqual([{ clientId: 'a', regId: 'reg-a' }]);
});

test('a grace moment earlier than the deadline changes nothing', async () => {
  const store = new MemoryRegistrationStore(() => T0 + 5_000);
  await store.start(discovery('b', T0 + 30_000), T0);
  expect(await allPages(store.overdue(T0 + 20_000, 10))).toEqual([]);
  expect(await allPages(store.overdue(T0 + 32_000, 10))).toEqual([{ clientId: 'b', regId: 'reg-b' }]);
});

test('without a grace, an answer after the deadline is refused and the discovery is overdue', async () => {
  const store = new MemoryRegistrationStore();
  await store.start(discovery('c', T0 + 10_000), T0);
  const late = T0 + 12_000;
  expect(await store.recordAnswer('c', 100, { status: 205, data: { 0: {} } }, late)).toBeNull();
  expect(await allPages(store.overdue(late, 10))).toEqual([{ clientId: 'c', regId: 'reg-c' }]);
});
