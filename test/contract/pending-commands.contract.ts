import { TRANS_IDS } from '../../shared/protocol/trans-ids';
import type { PendingCommands } from '../../shared/store/commands';
import type { PendingRequest } from '../../shared/store/model';

/** What every PendingCommands must do (shared/store/commands.ts); run by test/contract/commands.test.ts. */
const request = (clientId: string): Omit<PendingRequest, 'transId'> => ({
  clientId,
  cmdId: 0,
  oid: '3303',
  iid: '0',
  expiresAt: Math.ceil(Date.now() / 1000) + 10,
});

export function pendingCommandsContract(name: string, make: () => Promise<PendingCommands>): void {
  describe(`PendingCommands contract: ${name}`, () => {
    let commands: PendingCommands;
    beforeEach(async () => {
      commands = await make();
    });

    test('an opened request gets a command transId, is claimed once, and its waiter gets the answer', async () => {
      const req = await commands.open(request('a'));
      expect(req.transId).toBeGreaterThanOrEqual(TRANS_IDS.commands.from);
      expect(req.transId).toBeLessThan(TRANS_IDS.commands.to);
      const waiting = commands.wait(req, 5_000);
      const answer = { status: 205, data: 21.5 };
      const claimed = await commands.claim('a', 0, req.transId, answer, Date.now());
      expect(claimed).toMatchObject({ clientId: 'a', cmdId: 0, transId: req.transId, oid: '3303', iid: '0' });
      expect(await commands.claim('a', 0, req.transId, answer, Date.now())).toBeNull();
      commands.settle(claimed!, answer);
      expect(await waiting).toEqual(answer);
    });

    test('an answer nobody asked for is not claimed', async () => {
      const req = await commands.open(request('a'));
      const waiting = commands.wait(req, 2_000);
      expect(await commands.claim('b', 0, req.transId, { status: 205 }, Date.now())).toBeNull();
      expect(await commands.claim('a', 1, req.transId, { status: 205 }, Date.now())).toBeNull();
      expect(await commands.claim('a', 0, req.transId === 0x8000 ? 0x8001 : 0x8000, { status: 205 }, Date.now())).toBeNull();
      await commands.claim('a', 0, req.transId, { status: 205 }, Date.now());
      await waiting;
    });

    test('a wait ends with null when the timeout passes first; a closed request takes no answer', async () => {
      const req = await commands.open(request('a'));
      expect(await commands.wait(req, 100)).toBeNull();
      await commands.close(req);
      expect(await commands.claim('a', 0, req.transId, { status: 205 }, Date.now())).toBeNull();
    });

    test('an answer whose data the store cannot hold is still claimed, exactly once', async () => {
      const req = await commands.open(request('a'));
      const waiting = commands.wait(req, 5_000);
      const answer = { status: 205, data: 1e300 };
      const claimed = await commands.claim('a', 0, req.transId, answer, Date.now());
      expect(claimed).not.toBeNull();
      expect(await commands.claim('a', 0, req.transId, answer, Date.now())).toBeNull();
      commands.settle(claimed!, answer);
      expect((await waiting)?.status).toBe(205);
    });

    test('requests in flight at once get distinct transIds', async () => {
      const reqs = await Promise.all(Array.from({ length: 20 }, () => commands.open(request('a'))));
      expect(new Set(reqs.map((r) => r.transId)).size).toBe(20);
    });
  });
}
