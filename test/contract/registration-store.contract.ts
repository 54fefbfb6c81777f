import type { PendingRegistration } from '../../shared/store/model';
import type { RegistrationStore } from '../../shared/store/registrations';
import { RejectedValueError } from '../../shared/store/storable';
import { T0 } from './tables';
import { allPages } from '../helpers/pages';

/** What every RegistrationStore must do (shared/store/registrations.ts); run by test/contract/registrations.test.ts. */
export function pendingRegistration(clientId: string, over: Partial<PendingRegistration> = {}): PendingRegistration {
  return {
    clientId,
    regId: `reg-${clientId}`,
    purpose: 'register',
    clientTransId: 7,
    attrs: { lifetime: 600, ip: '10.0.0.1', mac: '02:00:00:00:00:01', version: '1' },
    changed: [],
    objList: { '1': [0], '3303': [0] },
    reads: { '100': '1', '101': '3303' },
    answers: {},
    remaining: 2,
    expiresAt: Math.ceil((T0 + 10_000) / 1000),
    ...over,
  };
}

export function registrationStoreContract(name: string, make: () => Promise<RegistrationStore>): void {
  describe(`RegistrationStore contract: ${name}`, () => {
    let registrations: RegistrationStore;
    beforeEach(async () => {
      registrations = await make();
    });

    test('start, then get what was started', async () => {
      expect(await registrations.start(pendingRegistration('a'), T0)).toEqual({ replaced: undefined });
      expect(await registrations.get('a', T0)).toEqual(pendingRegistration('a'));
      expect(await registrations.get('b', T0)).toBeNull();
    });

    test('the same message again while its reads run is "running"; another message replaces it', async () => {
      await registrations.start(pendingRegistration('a'), T0);
      expect(await registrations.start(pendingRegistration('a', { regId: 'other' }), T0)).toBe('running');
      // The same registration drawing its transIds again replaces itself.
      expect(await registrations.start(pendingRegistration('a', { reads: { '200': '1', '201': '3303' } }), T0)).toEqual({
        replaced: pendingRegistration('a'),
      });
      const next = pendingRegistration('a', { regId: 'next', clientTransId: 8 });
      expect(await registrations.start(next, T0)).toEqual({
        replaced: pendingRegistration('a', { reads: { '200': '1', '201': '3303' } }),
      });
      expect(await registrations.get('a', T0)).toEqual(next);
    });

    test('each read answer counts once, only for a read it sent', async () => {
      await registrations.start(pendingRegistration('a'), T0);
      const once = await registrations.recordAnswer('a', 100, { status: 205, data: { '0': { '1': 'x' } } }, T0);
      expect(once).toMatchObject({ remaining: 1, answers: { '100': { status: 205, data: { '0': { '1': 'x' } } } } });
      expect(await registrations.recordAnswer('a', 100, { status: 205, data: {} }, T0)).toBeNull();
      expect(await registrations.recordAnswer('a', 555, { status: 205, data: {} }, T0)).toBeNull();
      expect(await registrations.recordAnswer('b', 100, { status: 205, data: {} }, T0)).toBeNull();
      expect((await registrations.recordAnswer('a', 101, { status: 404 }, T0))?.remaining).toBe(0);
    });

    test('an answer the store cannot hold is refused', async () => {
      await registrations.start(pendingRegistration('a'), T0);
      await expect(registrations.recordAnswer('a', 100, { status: 205, data: { '0': { '1': 1e300 } } }, T0)).rejects.toBeInstanceOf(
        RejectedValueError,
      );
    });

    test('only the caller with the current regId takes it out, once', async () => {
      await registrations.start(pendingRegistration('a'), T0);
      expect(await registrations.claim('a', 'stale')).toBeNull();
      expect(await registrations.claim('a', 'reg-a')).toEqual(pendingRegistration('a'));
      expect(await registrations.claim('a', 'reg-a')).toBeNull();
      expect(await registrations.get('a', T0)).toBeNull();
    });

    test('past its deadline it is overdue, takes no answer and is not "running"', async () => {
      await registrations.start(pendingRegistration('a'), T0);
      expect(await allPages(registrations.overdue(T0 + 5_000, 10))).toEqual([]);
      const late = T0 + 12_000;
      expect(await allPages(registrations.overdue(late, 10))).toEqual([{ clientId: 'a', regId: 'reg-a' }]);
      expect(await registrations.get('a', late)).toBeNull();
      expect(await registrations.recordAnswer('a', 100, { status: 205, data: {} }, late)).toBeNull();
      expect(await registrations.start(pendingRegistration('a', { regId: 'again' }), late)).not.toBe('running');
    });

    test('the overdue ones come in pages of at most the size asked, each once', async () => {
      const ids = Array.from({ length: 12 }, (_, i) => `p${i}`);
      for (const id of ids) await registrations.start(pendingRegistration(id), T0);
      const sizes: number[] = [];
      const seen: Array<{ clientId: string; regId: string }> = [];
      for await (const page of registrations.overdue(T0 + 12_000, 5)) {
        sizes.push(page.length);
        seen.push(...page);
      }
      expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
      expect(seen.sort((a, b) => a.clientId.localeCompare(b.clientId))).toEqual(
        [...ids].sort().map((id) => ({ clientId: id, regId: `reg-${id}` })),
      );
    });
  });
}
