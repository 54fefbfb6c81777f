import { notify } from '../../functions/notify';
import { reaper } from '../../functions/reaper';
import { register } from '../../functions/register';
import { response } from '../../functions/response';
import { update } from '../../functions/update';
import { sendCommand } from '../../shared/ops/commands';
import type { CommandAnswer } from '../../shared/store/model';
import { TablePendingCommands } from '../../shared/store/table/commands';
import { MemoryPendingCommands } from '../../local/memory-commands';
import { registerBody, registerDevice, STORED, TREES } from '../helpers/devices';
import { eventually } from '../helpers/poll';
import { makeDeps, ManualClock, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { allPages } from '../helpers/pages';
import { dueDelay } from '../../shared/store/due';

/**
 * Concurrent handlers on one device against the real store (dynalite), as Lambda runs them in
 * the cloud: nothing here goes through the bridge's per-device ordering. docs/ARCHITECTURE.md, "Where each protocol rule lives":
 * concurrent handlers must not lose each other's writes (partial, conditional updates), and a
 * renewal racing the reaper either wins or loses, never half.
 */
jest.setTimeout(120_000);

let store: TestStore;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store?.close());

const ROUNDS = 60;
/** The tree stored for registerBody()'s objList {1: [0], 3303: [0, 1]}. */
const REGISTERED_TREE = { '1': STORED['1'], '3303': STORED['3303'] };

/** Lets the other promise of a race run first some of the time. */
const jitter = async (turns: number) => {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
};
const coin = () => Math.floor(Math.random() * 4);

const stored = async (deps: TestDeps, id: string) => (await deps.devices.get(id, deps.clock.now()))?.objects;
const notifyMsg = (id: string, body: Record<string, unknown>) => message(`notify/${id}`, body);

describe('notifies on one instance', () => {
  let deps: TestDeps;
  beforeAll(async () => {
    deps = await makeDeps(store);
    await registerDevice(deps, 'cc-notify');
  });

  test(`two resource notifies to one instance at once, ${ROUNDS} rounds: neither write is lost`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      deps.publisher.clear();
      const a = notifyMsg('cc-notify', { transId: 2 * round, oid: 3303, iid: 0, rid: 5700, data: round });
      const b = notifyMsg('cc-notify', { transId: 2 * round + 1, oid: 'temperature', iid: 0, rid: 'units', data: `u${round}` });
      const turns = coin();
      await Promise.all([jitter(turns).then(() => notify(a, deps)), jitter(3 - turns).then(() => notify(b, deps))]);
      expect(deps.publisher.on('notify/response/cc-notify').sort((x, y) => x.transId - y.transId)).toEqual([
        { transId: 2 * round, status: 204 },
        { transId: 2 * round + 1, status: 204 },
      ]);
      const objects = await stored(deps, 'cc-notify');
      expect(objects?.['3303']['0']).toEqual({ '5700': round, '5701': `u${round}` });
      expect(objects?.['3303']['1']).toEqual(STORED['3303']['1']);
    }
  });

  test(`instance notifies of disjoint resources and a third on another instance at once, ${ROUNDS} rounds: all land`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      deps.publisher.clear();
      await Promise.all([
        notify(notifyMsg('cc-notify', { transId: 1, oid: 3303, iid: 0, data: { sensorValue: round } }), deps),
        notify(notifyMsg('cc-notify', { transId: 2, oid: 3303, iid: 0, data: { '5701': `i${round}` } }), deps),
        notify(notifyMsg('cc-notify', { transId: 3, oid: 3303, iid: 1, rid: 5700, data: -round }), deps),
      ]);
      expect(deps.publisher.on('notify/response/cc-notify').map((a) => a.status)).toEqual([204, 204, 204]);
      const objects = await stored(deps, 'cc-notify');
      expect(objects?.['3303']).toEqual({ '0': { '5700': round, '5701': `i${round}` }, '1': { '5700': -round, '5701': 'C' } });
    }
    // The rest of the tree is untouched.
    expect((await stored(deps, 'cc-notify'))?.['1']).toEqual(STORED['1']);
  });
});

describe.each([
  ['local stack (pending reads in memory)', 'memory'],
  ['cloud (pending reads in the table)', 'table'],
] as const)('a notify racing a read result: %s', (_name, kind) => {
  let deps: TestDeps;
  beforeAll(async () => {
    deps = await makeDeps(store);
    deps.commands = kind === 'memory' ? new MemoryPendingCommands() : new TablePendingCommands(deps.table, deps.clock, 1, 5);
    await registerDevice(deps, 'cc-read');
  });

  /** Publishes a read, lets `race` run against the device's answer, and returns the command's answer. */
  async function readRacing(
    target: { oid: string; iid: string; rid?: string },
    data: unknown,
    race: () => Promise<void>,
  ): Promise<CommandAnswer> {
    deps.publisher.clear();
    const command = sendCommand(deps, 'cc-read', 'read', target);
    const req = await eventually(
      () => {
        const found = deps.publisher.on('request/cc-read');
        expect(found).toHaveLength(1);
        return found[0];
      },
      { intervalMs: 1 },
    );
    const answer = message('response/cc-read', { transId: req.transId, cmdId: 0, status: 205, data });
    const turns = coin();
    await Promise.all([jitter(turns).then(() => response(answer, deps)), jitter(3 - turns).then(race)]);
    return command;
  }

  test(`a resource read answer and a notify of another resource, ${ROUNDS} rounds: both are stored`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const notified = notifyMsg('cc-read', { transId: round, oid: 3303, iid: 0, rid: 5700, data: round });
      const answer = await readRacing({ oid: '3303', iid: '0', rid: '5701' }, `r${round}`, () => notify(notified, deps));
      expect(answer).toEqual({ status: 205, data: `r${round}` });
      expect(deps.publisher.on('notify/response/cc-read')).toEqual([{ transId: round, status: 204 }]);
      expect((await stored(deps, 'cc-read'))?.['3303']['0']).toEqual({ '5700': round, '5701': `r${round}` });
    }
  });

  test(`an instance read answer (resource names) and a notify of a resource it does not carry, ${ROUNDS} rounds: both are stored`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const notified = notifyMsg('cc-read', { transId: round, oid: 3303, iid: 1, rid: 5700, data: -round });
      const answer = await readRacing({ oid: '3303', iid: '1' }, { units: `k${round}` }, () => notify(notified, deps));
      expect(answer.status).toBe(205);
      expect(deps.publisher.on('notify/response/cc-read')).toEqual([{ transId: round, status: 204 }]);
      expect((await stored(deps, 'cc-read'))?.['3303']['1']).toEqual({ '5700': -round, '5701': `k${round}` });
    }
  });
});

describe('an update (lifetime renewal) racing the reaper at the moment of expiry', () => {
  test(`${ROUNDS} rounds: the device is either kept with the renewal or reaped, never half`, async () => {
    const outcomes = { kept: 0, reaped: 0 };
    for (let round = 1; round <= ROUNDS; round++) {
      const deps = await makeDeps(store);
      const id = `cc-reap-${round}`;
      const registered = await registerDevice(deps, id, { lifetime: 60 });
      const expiry = registered.expiresAt;
      // The update's handler sees the last second of the lifetime, the reaper the first one past it
      // (two Lambdas, two clocks a moment apart).
      const atExpiry = { ...deps, clock: new ManualClock(expiry * 1000 + 999) };
      // The reaper at the first second it finds the device due (it looks a delay fixed per clientId
      // after the expiry: shared/store/due.ts); the update, already a moment late, lands then too.
      const pastExpiry = { ...deps, clock: new ManualClock((expiry + dueDelay(id, 60) + 1) * 1000) };
      const turns = coin();
      const [, report] = await Promise.all([
        jitter(turns).then(() => update(message(`update/${id}`, { transId: 7, lifetime: 120 }), atExpiry)),
        jitter(3 - turns).then(() => reaper(pastExpiry)),
      ]);

      const answers = deps.publisher.on(`update/response/${id}`);
      const leaving = deps.events.events.filter((e) => e.type === 'devLeaving' && e.clientId === id);
      const raw = (
        await deps.table.doc.get({ TableName: deps.table.name, Key: { pk: `d#${id}`, sk: 'device' }, ConsistentRead: true })
      ).Item;
      if (answers[0]?.status === 204) {
        outcomes.kept++;
        expect(answers).toEqual([{ transId: 7, status: 204 }]);
        expect(leaving).toEqual([]);
        expect(report.expired).not.toContain(id);
        // The whole record, renewed: the new lifetime counted from the update.
        expect(raw).toMatchObject({ ...registered, lifetime: 120, expiresAt: expiry + 120 });
        expect(await pastExpiry.devices.get(id, pastExpiry.clock.now())).toEqual(
          expect.objectContaining({ lifetime: 120, objects: REGISTERED_TREE }),
        );
        // The reaper looking again now finds it renewed.
        expect((await reaper(pastExpiry)).expired).toEqual([]);
        expect(await pastExpiry.devices.get(id, pastExpiry.clock.now())).not.toBeNull();
      } else {
        outcomes.reaped++;
        expect(answers).toEqual([{ transId: 7, status: 404 }]);
        expect(report.expired).toEqual([id]);
        expect(leaving.map((e) => e.data)).toEqual([registered.mac]);
        // Nothing left behind: no stub item written by the update after the delete.
        expect(raw).toBeUndefined();
      }
      expect(deps.events.events.filter((e) => e.clientId === id && e.type !== 'devLeaving')).toEqual(
        answers[0]?.status === 204
          ? [{ type: 'devUpdate', clientId: id, data: { lifetime: 120 }, timestamp: atExpiry.clock.now() }]
          : [],
      );
    }
    console.log(`update vs reaper at expiry: ${outcomes.kept} kept with the renewal, ${outcomes.reaped} reaped, 0 half`);
  });
});

describe('two register messages for the same new client at once', () => {
  /** Answers every read published for `id` so far, all at once and in random order. */
  async function answerAllReads(deps: TestDeps, id: string, seen: Set<object>): Promise<number> {
    const fresh = deps.publisher.published.filter((p) => p.topic === `request/${id}` && !seen.has(p));
    fresh.forEach((p) => seen.add(p));
    const shuffled = fresh.map((p) => p.json()).sort(() => Math.random() - 0.5);
    await Promise.all(
      shuffled.map((req) =>
        response(message(`response/${id}`, { transId: req.transId, cmdId: 0, status: 205, data: TREES[String(req.oid)] }), deps),
      ),
    );
    return fresh.length;
  }

  test.each([
    ['the same message delivered twice', true],
    ['two registers with their own transIds', false],
  ])(`%s, ${ROUNDS / 2} rounds: one registration, one devIncoming`, async (_name, sameTransId) => {
    const deps = await makeDeps(store);
    for (let round = 1; round <= ROUNDS / 2; round++) {
      const id = `cc-reg-${sameTransId ? 's' : 'd'}-${round}`;
      const first = message(`register/${id}`, registerBody({ transId: 40 }));
      const second = message(`register/${id}`, registerBody({ transId: sameTransId ? 40 : 41 }));
      const turns = coin();
      await Promise.all([jitter(turns).then(() => register(first, deps)), jitter(3 - turns).then(() => register(second, deps))]);
      const seen = new Set<object>();
      // Late answers to a replaced registration arrive along with the current one's.
      while ((await answerAllReads(deps, id, seen)) > 0);

      const incoming = deps.events.events.filter((e) => e.type === 'devIncoming' && e.clientId === id);
      expect(incoming).toHaveLength(1);
      const answers = deps.publisher.on(`register/response/${id}`);
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      for (const a of answers) {
        expect([200, 201]).toContain(a.status);
        expect(sameTransId ? [40] : [40, 41]).toContain(a.transId);
      }
      const device = await deps.devices.get(id, deps.clock.now());
      expect(device).toMatchObject({
        clientId: id,
        mac: 'aa:bb:cc:00:00:01',
        objList: { '1': [0], '3303': [0, 1] },
        objects: REGISTERED_TREE,
      });
      expect(incoming[0].data).toMatchObject({ clientId: id, objList: { '1': [0], '3303': [0, 1] } });
    }
    // No registration is left in progress (it would fail later with a 500 and confuse the client).
    expect(await allPages(deps.registrations.overdue(deps.clock.now() + 3_600_000, 10))).toEqual([]);
  });
});
