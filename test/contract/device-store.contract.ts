import { BadCursorError, type DeviceStore } from '../../shared/store/devices';
import {
  changeDevice,
  renew,
  setStatus,
  storeInstanceValues,
  storeNotification,
  storeObject,
} from '../../shared/store/device-writes';
import { toSeconds, type DeviceItem } from '../../shared/store/model';
import { RejectedValueError } from '../../shared/store/storable';
import { dueDelay, maxDueDelay } from '../../shared/store/due';
import { T0 } from './tables';
import { allPages } from '../helpers/pages';

/**
 * What every DeviceStore must do (shared/store/devices.ts), run against each implementation by
 * test/contract/devices.test.ts, the way aedes-persistence's abstract suite runs against every backend.
 */
export function deviceItem(clientId: string, nowMs = T0, over: Partial<DeviceItem> = {}): DeviceItem {
  const now = toSeconds(nowMs);
  return {
    clientId,
    joinTime: now,
    lifetime: 600,
    ip: '10.0.0.1',
    mac: '02:00:00:00:00:01',
    version: '1.0',
    objList: { '3303': [0] },
    status: 'online',
    expiresAt: now + 600,
    objects: { '3303': { '0': { '5700': 21.5, '5701': 'C' } } },
    ...over,
  };
}

/** The first moment (epoch ms) the reaper's look-up finds a device that expires at `expiresAt` (epoch s). */
const seenDueAt = (clientId: string, lifetime: number, expiresAt: number): number =>
  (expiresAt + dueDelay(clientId, lifetime) + 1) * 1000;

export function deviceStoreContract(name: string, make: () => Promise<DeviceStore>): void {
  describe(`DeviceStore contract: ${name}`, () => {
    let devices: DeviceStore;
    beforeEach(async () => {
      devices = await make();
    });

    test('an unknown device is not there', async () => {
      expect(await devices.get('nobody', T0)).toBeNull();
      expect(await devices.isRegistered('nobody', T0)).toBe(false);
      expect(await devices.apply('nobody', renew(T0))).toBeNull();
      expect(await devices.remove('nobody', T0)).toBeNull();
    });

    test('create, then get what was created', async () => {
      expect(await devices.create(deviceItem('a'), T0)).toEqual({ existed: false });
      expect(await devices.get('a', T0)).toEqual(deviceItem('a'));
      expect(await devices.isRegistered('a', T0)).toBe(true);
    });

    test('create over the same device says it existed; over another mac it conflicts; over an expired one it succeeds', async () => {
      await devices.create(deviceItem('a'), T0);
      expect(await devices.create(deviceItem('a', T0 + 1000), T0 + 1000)).toEqual({ existed: true });
      expect(await devices.create(deviceItem('a', T0, { mac: '02:00:00:00:00:99' }), T0 + 1000)).toBe('conflict');
      const later = T0 + 601_000 + 1000;
      expect(await devices.create(deviceItem('a', later, { mac: '02:00:00:00:00:99' }), later)).toEqual({ existed: false });
      expect((await devices.get('a', later))?.mac).toBe('02:00:00:00:00:99');
    });

    test('an expired device is gone for every reader and every write', async () => {
      await devices.create(deviceItem('a'), T0);
      const later = T0 + 601_000;
      expect(await devices.get('a', later)).toBeNull();
      expect(await devices.isRegistered('a', later)).toBe(false);
      expect(await devices.apply('a', renew(later))).toBeNull();
      expect((await devices.list(later)).map((d) => d.clientId)).toEqual([]);
    });

    test('a write returns the item as it was before and renews the lifetime', async () => {
      await devices.create(deviceItem('a'), T0);
      const before = await devices.apply('a', storeNotification('3303', '0', { '5700': 30 }, T0 + 5000));
      expect(before?.objects['3303']['0']['5700']).toBe(21.5);
      const after = await devices.get('a', T0 + 5000);
      expect(after?.objects['3303']['0']).toEqual({ '5700': 30, '5701': 'C' });
      expect(after?.expiresAt).toBe(toSeconds(T0 + 5000) + 600);
    });

    test('a notify on a resource, instance or object the device did not register changes nothing', async () => {
      await devices.create(deviceItem('a'), T0);
      expect(await devices.apply('a', storeNotification('3303', '0', { '5800': 1 }, T0))).toBeNull();
      expect(await devices.apply('a', storeNotification('3303', '7', { '5700': 1 }, T0))).toBeNull();
      expect(await devices.apply('a', storeNotification('3304', '0', { '5700': 1 }, T0))).toBeNull();
      expect(await devices.apply('a', storeNotification('3303', '1', {}, T0))).toBeNull();
      expect(await devices.get('a', T0)).toEqual(deviceItem('a'));
    });

    test('a read result may add resources inside a known instance, and replace a known object', async () => {
      await devices.create(deviceItem('a'), T0);
      expect(await devices.apply('a', storeInstanceValues('3303', '0', { '5601': 10 }, T0))).not.toBeNull();
      expect(await devices.apply('a', storeInstanceValues('3303', '9', { '5601': 10 }, T0))).toBeNull();
      expect((await devices.get('a', T0))?.objects['3303']['0']).toEqual({ '5700': 21.5, '5701': 'C', '5601': 10 });
      expect(await devices.apply('a', storeObject('3303', { '1': { '5700': 1 } }, T0))).not.toBeNull();
      expect(await devices.apply('a', storeObject('3304', { '0': {} }, T0))).toBeNull();
      expect((await devices.get('a', T0))?.objects).toEqual({ '3303': { '1': { '5700': 1 } } });
    });

    test('a status changes only from the statuses the write names, and clears the wake deadline', async () => {
      await devices.create(deviceItem('a'), T0);
      expect(await devices.apply('a', changeDevice({ status: 'sleep' }, T0, { wakeBy: toSeconds(T0) + 60 }))).not.toBeNull();
      expect((await devices.get('a', T0))?.wakeBy).toBe(toSeconds(T0) + 60);
      expect(await allPages(devices.overdueSleeperIds(T0 + 61_000, 10))).toEqual(['a']);
      expect(await devices.apply('a', setStatus('offline', ['online'], T0))).toBeNull();
      expect(await devices.apply('a', setStatus('offline', ['sleep'], T0))).not.toBeNull();
      const after = await devices.get('a', T0);
      expect(after?.status).toBe('offline');
      expect(after?.wakeBy).toBeUndefined();
      expect(await allPages(devices.overdueSleeperIds(T0 + 61_000, 10))).toEqual([]);
    });

    test('a new lifetime counts from the write', async () => {
      await devices.create(deviceItem('a'), T0);
      await devices.apply('a', changeDevice({ lifetime: 30, ip: '10.0.0.2' }, T0 + 10_000));
      expect(await devices.get('a', T0 + 10_000)).toMatchObject({ lifetime: 30, ip: '10.0.0.2', expiresAt: toSeconds(T0) + 40 });
      expect(await allPages(devices.expiredIds(seenDueAt('a', 30, toSeconds(T0) + 40), 10))).toEqual(['a']);
    });

    test('a device comes due for the reaper its own delay after it expired: never before, at most a tenth of its lifetime after', async () => {
      const ids = Array.from({ length: 40 }, (_, i) => `spread-${i}`);
      for (const id of ids) await devices.create(deviceItem(id), T0);
      const expiry = toSeconds(T0) + 600;
      expect(await allPages(devices.expiredIds((expiry + 1) * 1000, 7))).toEqual(ids.filter((id) => dueDelay(id, 600) === 0));
      for (const id of ids) {
        const due = seenDueAt(id, 600, expiry);
        expect(await allPages(devices.expiredIds(due - 1000, 7))).not.toContain(id);
        expect(await allPages(devices.expiredIds(due, 7))).toContain(id);
      }
      // The 40 are spread over the minute a 600 s lifetime allows, not bunched at its start.
      const delays = new Set(ids.map((id) => dueDelay(id, 600)));
      expect(Math.max(...delays)).toBeLessThanOrEqual(maxDueDelay(600));
      expect(delays.size).toBeGreaterThan(20);
      expect((await allPages(devices.expiredIds((expiry + maxDueDelay(600) + 1) * 1000, 7))).sort()).toEqual([...ids].sort());
    });

    test('the look-ups come in pages of at most the size asked, each due device once', async () => {
      const ids = Array.from({ length: 23 }, (_, i) => `page-${i}`);
      for (const id of ids) {
        await devices.create(deviceItem(id), T0);
        await devices.apply(id, changeDevice({ status: 'sleep' }, T0, { wakeBy: toSeconds(T0) + 60 }));
      }
      const later = (toSeconds(T0) + 600 + maxDueDelay(600) + 1) * 1000;
      for (const pages of [devices.expiredIds(later, 5), devices.overdueSleeperIds(later, 5)]) {
        const sizes: number[] = [];
        const seen: string[] = [];
        for await (const page of pages) {
          sizes.push(page.length);
          seen.push(...page);
        }
        expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
        expect(seen.sort()).toEqual([...ids].sort());
      }
    });

    test('a value the store cannot hold is refused before the write, and changes nothing', async () => {
      await devices.create(deviceItem('a'), T0);
      for (const bad of [1e200, -1e-200, Number.POSITIVE_INFINITY, { deep: [1e130] }]) {
        await expect(devices.apply('a', storeNotification('3303', '0', { '5700': bad }, T0 + 1000))).rejects.toBeInstanceOf(
          RejectedValueError,
        );
      }
      await expect(devices.apply('a', storeInstanceValues('3303', '0', { '': 1 }, T0))).rejects.toBeInstanceOf(RejectedValueError);
      await expect(
        devices.create(deviceItem('b', T0, { objects: { '1': { '0': { '1': Number.POSITIVE_INFINITY } } } }), T0),
      ).rejects.toBeInstanceOf(RejectedValueError);
      expect(await devices.get('a', T0)).toEqual(deviceItem('a'));
      expect(await devices.get('b', T0)).toBeNull();
    });

    test('remove returns what was removed, once', async () => {
      await devices.create(deviceItem('a'), T0);
      expect(await devices.remove('a', T0)).toEqual(deviceItem('a'));
      expect(await devices.remove('a', T0)).toBeNull();
      expect(await devices.get('a', T0)).toBeNull();
    });

    test('reap removes only a device whose lifetime really ran out', async () => {
      await devices.create(deviceItem('a'), T0);
      expect(await devices.reap('a', T0 + 1000)).toBeNull();
      expect(await devices.get('a', T0 + 1000)).not.toBeNull();
      expect(await devices.reap('a', T0 + 602_000)).toEqual(deviceItem('a'));
      expect(await devices.get('a', 0)).toBeNull();
    });

    test('a renewal after the reaper found a device due keeps it, and it is due again later', async () => {
      await devices.create(deviceItem('a'), T0);
      const found = seenDueAt('a', 600, toSeconds(T0) + 600);
      expect(await allPages(devices.expiredIds(found, 10))).toEqual(['a']);
      await devices.apply('a', renew(T0 + 599_000));
      expect(await devices.reap('a', found)).toBeNull();
      expect(await allPages(devices.expiredIds(found, 10))).toEqual([]);
      // Due again as soon as the renewed lifetime runs out: the reaper already waited once.
      expect(await allPages(devices.expiredIds(T0 + 1_200_000, 10))).toEqual(['a']);
    });

    test('pages of any size, followed by their cursors, hold every live device once', async () => {
      const ids = Array.from({ length: 23 }, (_, i) => `dev-${String(i).padStart(2, '0')}`);
      for (const id of ids) await devices.create(deviceItem(id), T0);
      await devices.create(deviceItem('gone', T0 - 700_000), T0 - 700_000); // expired before T0
      for (const limit of [1, 5, 23, 100]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await devices.page(T0, limit, cursor);
          expect(page.devices.length).toBeLessThanOrEqual(limit);
          const inPage = page.devices.map((d) => d.clientId);
          expect(inPage).toEqual([...inPage].sort());
          seen.push(...inPage);
          cursor = page.next;
          expect(++pages).toBeLessThan(100);
        } while (cursor !== undefined);
        expect(seen.sort()).toEqual(ids);
      }
      const [first] = (await devices.page(T0, 100)).devices.filter((d) => d.clientId === 'dev-00');
      expect(first).toEqual((await devices.list(T0)).find((d) => d.clientId === 'dev-00'));
    });

    test('an empty fleet is one empty last page; a cursor the store did not make is refused', async () => {
      expect(await devices.page(T0, 10)).toEqual({ devices: [] });
      for (const bad of ['nonsense', Buffer.from('{"s":-1}').toString('base64url'), Buffer.from('[1]').toString('base64url')]) {
        await expect(devices.page(T0, 10, bad)).rejects.toBeInstanceOf(BadCursorError);
      }
    });

    test('list holds every live device, sorted, with its current expiry', async () => {
      for (const id of ['c', 'a', 'b']) await devices.create(deviceItem(id), T0);
      await devices.apply('b', renew(T0 + 100_000));
      const listed = await devices.list(T0 + 100_000);
      expect(listed.map((d) => d.clientId)).toEqual(['a', 'b', 'c']);
      expect(listed[1]).toEqual({
        clientId: 'b',
        joinTime: toSeconds(T0),
        lifetime: 600,
        ip: '10.0.0.1',
        mac: '02:00:00:00:00:01',
        version: '1.0',
        objList: { '3303': [0] },
        status: 'online',
        expiresAt: toSeconds(T0 + 100_000) + 600,
      });
    });
  });
}
