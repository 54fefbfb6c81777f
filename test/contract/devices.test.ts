import fc from 'fast-check';
import { CachedDeviceStore } from '../../shared/store/cached-devices';
import {
  applyWrite,
  changeDevice,
  renew,
  setStatus,
  storeInstanceValues,
  storeNotification,
  storeObject,
  type DeviceWrite,
} from '../../shared/store/device-writes';
import { DEVICE_STATUSES } from '../../shared/store/model';
import { TableDeviceStore } from '../../shared/store/table/devices';
import { startTestStore, type TestStore } from '../helpers/recorder';
import { deviceItem, deviceStoreContract } from './device-store.contract';
import { freshTable, T0 } from './tables';

let store: TestStore;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());

deviceStoreContract('table', async () => new TableDeviceStore(await freshTable(store)));

deviceStoreContract('table with the item cache', async () => new CachedDeviceStore(new TableDeviceStore(await freshTable(store))));

deviceStoreContract('table with the item cache and a loaded directory', async () => {
  const cached = new CachedDeviceStore(new TableDeviceStore(await freshTable(store)));
  await cached.loadDirectory();
  return cached;
});

/**
 * The one definition of each write (shared/store/device-writes.ts) is rendered for the table and
 * applied in memory by the cache: the two must agree with what DynamoDB's semantics make of it.
 */
describe('a device write applied in memory equals the item the table holds after it', () => {
  const id = fc.constantFrom('0', '1', '5700', '5701', '9');
  const value = fc.oneof(
    fc.integer(),
    fc.integer().map((i) => i / 64),
    fc.string({ maxLength: 5 }),
    fc.boolean(),
  );
  const t = fc.integer({ min: 0, max: 700_000 }).map((ms) => T0 + ms);
  const status = fc.constantFrom(...DEVICE_STATUSES);
  const write: fc.Arbitrary<DeviceWrite> = fc.oneof(
    t.map((now) => renew(now)),
    fc
      .tuple(id, id, fc.dictionary(id, value, { maxKeys: 3 }), t)
      .map(([iid, _r, values, now]) => storeNotification('3303', iid, values, now)),
    fc
      .tuple(id, fc.dictionary(id, value, { maxKeys: 3 }), t)
      .map(([iid, values, now]) => storeInstanceValues('3303', iid, values, now)),
    fc
      .tuple(fc.dictionary(id, fc.dictionary(id, value, { maxKeys: 2 }), { maxKeys: 2 }), t)
      .map(([instances, now]) => storeObject('3303', instances, now)),
    fc.tuple(status, fc.subarray([...DEVICE_STATUSES], { minLength: 1 }), t).map(([s, from, now]) => setStatus(s, from, now)),
    fc
      .tuple(
        fc.record({
          lifetime: fc.option(fc.integer({ min: 1, max: 900 }), { nil: undefined }),
          ip: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
        }),
        fc.option(status, { nil: undefined }),
        fc.constantFrom('keep' as const, 'clear' as const, { wakeBy: 1 }),
        t,
      )
      .map(([attrs, s, wake, now]) =>
        changeDevice({ ...attrs, status: s }, now, typeof wake === 'object' ? { wakeBy: Math.floor(now / 1000) + 60 } : wake),
      ),
  );

  test('for 300 random sequences of writes', async () => {
    const table = await freshTable(store);
    const devices = new TableDeviceStore(table);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 6 }), async (writes) => {
        const clientId = `p${n++}`;
        await devices.create(deviceItem(clientId, T0, { objects: { '3303': { '0': { '5700': 1, '5701': 'C' }, '1': {} } } }), T0);
        for (const w of writes) {
          const before = await devices.get(clientId, 0);
          const result = await devices.apply(clientId, w);
          const after = await devices.get(clientId, 0);
          const expected = before && applyWrite(before, w);
          // A write whose conditions fail changes nothing, in memory and in the table.
          expect(result === null).toBe(expected === null);
          expect(after).toEqual(expected ?? before);
          if (result) expect(result).toEqual(before);
        }
      }),
      { numRuns: 300 },
    );
  });
});
