import fc from 'fast-check';
import type { DeviceItem } from '../../shared/store/model';
import { createDocumentClient, fixedShards } from '../../shared/store/table/client';
import { TableDeviceStore } from '../../shared/store/table/devices';
import { registerDevice } from '../helpers/devices';
import { makeDeps, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { changeDevice, setStatus, storeInstanceValues, storeNotification, storeObject } from '../../shared/store/device-writes';
import { CachedDeviceStore } from '../../shared/store/cached-devices';

/**
 * The registry with its device cache (the local stack over its own store) must answer exactly
 * as the registry without it does, while sparing the store the reads and no-op writes.
 */
let store: TestStore;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());

/** Counts the store calls the registry makes from now on. */
function countCalls(deps: TestDeps): () => number {
  const doc = deps.table.doc;
  let calls = 0;
  for (const method of ['get', 'put', 'update', 'delete', 'query', 'batchGet'] as const) {
    const call = doc[method].bind(doc) as (input: never) => Promise<never>;
    (doc as unknown as Record<string, unknown>)[method] = (input: never) => {
      calls++;
      return call(input);
    };
  }
  return () => calls;
}

/** The device item as the table holds it, read past the registry (and its cache and call count). */
async function inTable(deps: TestDeps, id: string): Promise<Record<string, unknown> | undefined> {
  const out = await createDocumentClient(store.client).get({
    TableName: deps.table.name,
    Key: { pk: `d#${id}`, sk: 'device' },
    ConsistentRead: true,
  });
  if (!out.Item) return undefined;
  const { pk: _pk, sk: _sk, kind: _kind, dueAt: _dueAt, sleepKind: _sleepKind, ...rest } = out.Item;
  return rest;
}

describe('with the cache', () => {
  let deps: TestDeps;
  let calls: () => number;
  beforeEach(async () => {
    deps = await makeDeps(store, {}, { deviceCache: true });
    await registerDevice(deps, 'c1');
    calls = countCalls(deps);
  });

  test('a registered device is known and read without a store call', async () => {
    expect(await deps.devices.isRegistered('c1', deps.clock.now())).toBe(true);
    expect((await deps.devices.get('c1', deps.clock.now()))?.objects['3303']['0']['5700']).toBe(21.5);
    expect(calls()).toBe(0);
  });

  test('a write that changes nothing within the same second is not sent; a change is, and is seen', async () => {
    const now = deps.clock.now();
    const before = await deps.devices.apply('c1', storeInstanceValues('3303', '0', { '5700': 21.5 }, now));
    expect(before?.objects['3303']['0']['5700']).toBe(21.5);
    expect(calls()).toBe(0);

    await deps.devices.apply('c1', storeNotification('3303', '0', { '5700': 30 }, now));
    expect(calls()).toBe(1);
    expect((await deps.devices.get('c1', now))?.objects['3303']['0']['5700']).toBe(30);
    expect(calls()).toBe(1);
    expect((await inTable(deps, 'c1'))?.objects).toEqual((await deps.devices.get('c1', now))?.objects);
  });

  test('a new second renews the lifetime in the store even when the value is the same', async () => {
    deps.clock.advance(5_000);
    const now = deps.clock.now();
    await deps.devices.apply('c1', storeNotification('3303', '0', { '5700': 21.5 }, now));
    expect(calls()).toBe(1);
    expect((await inTable(deps, 'c1'))?.expiresAt).toBe(Math.floor(now / 1000) + 600);
    await deps.devices.apply('c1', changeDevice({}, now));
    expect(calls()).toBe(1);
    deps.clock.advance(1_000);
    await deps.devices.apply('c1', changeDevice({}, deps.clock.now()));
    expect(calls()).toBe(2);
    expect((await inTable(deps, 'c1'))?.expiresAt).toBe(Math.floor(deps.clock.now() / 1000) + 600);
  });

  test('a refused write (unknown resource) changes nothing and is answered like without the cache', async () => {
    expect(await deps.devices.apply('c1', storeNotification('3303', '0', { '5800': 1 }, deps.clock.now()))).toBeNull();
    expect(await deps.devices.apply('c1', storeNotification('3303', '7', { '5700': 1 }, deps.clock.now()))).toBeNull();
    expect(await deps.devices.isRegistered('c1', deps.clock.now())).toBe(true);
    expect((await deps.devices.get('c1', deps.clock.now()))?.objects['3303']['0']).toEqual({ '5700': 21.5, '5701': 'C' });
  });

  test('a removed or reaped device is gone for the cache too', async () => {
    expect(await deps.devices.remove('c1', deps.clock.now())).not.toBeNull();
    expect(await deps.devices.isRegistered('c1', deps.clock.now())).toBe(false);
    await registerDevice(deps, 'c2');
    deps.clock.advance(601_000);
    expect(await deps.devices.reap('c2', deps.clock.now())).not.toBeNull();
    expect(await deps.devices.get('c2', deps.clock.now())).toBeNull();
    expect(await deps.devices.isRegistered('c2', deps.clock.now())).toBe(false);
  });

  test('with the directory loaded, a device the table never had is answered without a store read', async () => {
    await (deps.devices as CachedDeviceStore).loadDirectory();
    const before = calls();
    expect(await deps.devices.get('never-seen', deps.clock.now())).toBeNull();
    expect(await deps.devices.isRegistered('never-seen', deps.clock.now())).toBe(false);
    expect(calls()).toBe(before);
    // The directory follows creations and removals made through the registry.
    await registerDevice(deps, 'c3');
    expect(await deps.devices.isRegistered('c3', deps.clock.now())).toBe(true);
    await deps.devices.remove('c3', deps.clock.now());
    const afterDelete = calls();
    expect(await deps.devices.get('c3', deps.clock.now())).toBeNull();
    expect(calls()).toBe(afterDelete);
  });

  test('a directory loaded from a table that has devices knows them', async () => {
    const other = await makeDeps(store, {}, { deviceCache: true });
    const fresh = new CachedDeviceStore(
      new TableDeviceStore({ doc: other.table.doc, name: deps.table.name, shards: fixedShards(4) }),
    );
    expect(await fresh.loadDirectory()).toBe(1);
    expect(await fresh.isRegistered('c1', deps.clock.now())).toBe(true);
    expect(await fresh.isRegistered('c9', deps.clock.now())).toBe(false);
  });

  test('an expired device is not registered, even while cached', async () => {
    deps.clock.advance(601_000);
    expect(await deps.devices.isRegistered('c1', deps.clock.now())).toBe(false);
    expect(await deps.devices.get('c1', deps.clock.now())).toBeNull();
    expect(await deps.devices.apply('c1', storeNotification('3303', '0', { '5700': 21.5 }, deps.clock.now()))).toBeNull();
  });

  test('concurrent writes on one device all land, and the cache agrees with the table afterwards', async () => {
    const now = deps.clock.now();
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 3 === 0
          ? deps.devices.apply('c1', storeNotification('3303', '1', { '5700': i }, now))
          : i % 3 === 1
            ? deps.devices.apply('c1', storeNotification('3303', '0', { '5701': `u${i}` }, now))
            : deps.devices.apply('c1', changeDevice({ status: 'online' }, now)),
      ),
    );
    const cached = await deps.devices.get('c1', now);
    expect(cached?.objects).toEqual((await inTable(deps, 'c1'))?.objects);
    expect([0, 3, 6, 9]).toContain(cached?.objects['3303']['1']['5700']);
  });
});

/** One registry operation, as a fast-check command over a device id and values. */
type Op =
  | { kind: 'notify'; id: string; iid: string; rid: string; value: number }
  | { kind: 'answer'; id: string; iid: string; rid: string; value: number }
  | { kind: 'object'; id: string; value: number }
  | { kind: 'renew'; id: string }
  | { kind: 'status'; id: string; status: 'online' | 'sleep' | 'offline' }
  | { kind: 'offlineIf'; id: string }
  | { kind: 'delete'; id: string }
  | { kind: 'create'; id: string }
  | { kind: 'tick'; ms: number };

const ids = fc.constantFrom('p1', 'p2', 'p3');
const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('notify' as const),
    id: ids,
    iid: fc.constantFrom('0', '1', '5'),
    rid: fc.constantFrom('5700', '5701', '5800'),
    value: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({
    kind: fc.constant('answer' as const),
    id: ids,
    iid: fc.constantFrom('0', '1', '5'),
    rid: fc.constantFrom('5700', '5800'),
    value: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constant('object' as const), id: ids, value: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('renew' as const), id: ids }),
  fc.record({
    kind: fc.constant('status' as const),
    id: ids,
    status: fc.constantFrom('online' as const, 'sleep' as const, 'offline' as const),
  }),
  fc.record({ kind: fc.constant('offlineIf' as const), id: ids }),
  fc.record({ kind: fc.constant('delete' as const), id: ids }),
  fc.record({ kind: fc.constant('create' as const), id: ids }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.constantFrom(0, 400, 1_000, 700_000) }),
);

function newItem(id: string, nowMs: number): DeviceItem {
  const now = Math.floor(nowMs / 1000);
  return {
    clientId: id,
    joinTime: now,
    lifetime: 600,
    ip: '10.0.0.1',
    mac: 'aa:bb',
    version: '1',
    objList: { '3303': ['0', '1'] },
    status: 'online',
    expiresAt: now + 600,
    objects: { '3303': { '0': { '5700': 1, '5701': 'C' }, '1': { '5700': 2, '5701': 'C' } } },
  };
}

async function apply(deps: TestDeps, op: Op): Promise<unknown> {
  const now = deps.clock.now();
  switch (op.kind) {
    case 'notify':
      return deps.devices.apply(op.id, storeNotification('3303', op.iid, { [op.rid]: op.value }, now));
    case 'answer':
      return deps.devices.apply(op.id, storeInstanceValues('3303', op.iid, { [op.rid]: op.value }, now));
    case 'object':
      return deps.devices.apply(op.id, storeObject('3303', { '0': { '5700': op.value, '5701': 'C' } }, now));
    case 'renew':
      return deps.devices.apply(op.id, changeDevice({}, now));
    case 'status':
      return deps.devices.apply(op.id, changeDevice({ status: op.status }, now));
    case 'offlineIf':
      return deps.devices.apply(op.id, setStatus('offline', ['sleep'], now));
    case 'delete':
      return deps.devices.remove(op.id, now);
    case 'create':
      return deps.devices.create(newItem(op.id, now), now);
    case 'tick':
      deps.clock.advance(op.ms);
      return undefined;
  }
}

test('any sequence of operations answers the same with and without the cache, and leaves the same table', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(ops, { minLength: 1, maxLength: 25 }), async (sequence) => {
      const plain = await makeDeps(store);
      const cached = await makeDeps(store, {}, { deviceCache: true });
      await (cached.devices as CachedDeviceStore).loadDirectory();
      for (const deps of [plain, cached]) {
        for (const id of ['p1', 'p2']) await deps.devices.create(newItem(id, deps.clock.now()), deps.clock.now());
      }
      for (const op of sequence) {
        const [a, b] = [await apply(plain, op), await apply(cached, op)];
        expect(b).toEqual(a);
        for (const id of ['p1', 'p2', 'p3']) {
          expect(await cached.devices.isRegistered(id, cached.clock.now())).toBe(
            await plain.devices.isRegistered(id, plain.clock.now()),
          );
          expect(await cached.devices.get(id, cached.clock.now())).toEqual(await plain.devices.get(id, plain.clock.now()));
        }
      }
      for (const id of ['p1', 'p2', 'p3']) expect(await inTable(cached, id)).toEqual(await inTable(plain, id));
    }),
    { numRuns: 25 },
  );
}, 120_000);
