import { register } from '../../functions/register';
import { MAC, STORED, answerReads, nowSec, registerBody, registerDevice } from '../helpers/devices';
import { foreignTopics, malformedPayloads, prototypeIsClean } from '../helpers/malformed';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { setStatus } from '../../shared/store/device-writes';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

const answersTo = (id: string) => deps.publisher.on(`register/response/${id}`);
const readsOf = (id: string) => deps.publisher.on(`request/${id}`);
const device = (id: string) => deps.devices.get(id, deps.clock.now());

describe('201: a new client', () => {
  test('is read object by object and answered 201 only after every read answered', async () => {
    await register(message('register/n1', registerBody()), deps);
    expect(
      readsOf('n1')
        .map((r) => [r.cmdId, r.oid])
        .sort(),
    ).toEqual([
      [0, 1],
      [0, 3303],
    ]);
    expect(answersTo('n1')).toEqual([]);
    expect(await device('n1')).toBeNull();

    await answerReads(deps, 'n1');
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 201 }]);
    const stored = await device('n1');
    expect(stored).toMatchObject({
      clientId: 'n1',
      lifetime: 600,
      ip: '127.0.0.1',
      mac: 'aa:bb:cc:00:00:01',
      version: '0.0.1',
      status: 'online',
      objList: { '1': [0], '3303': [0, 1] },
      expiresAt: nowSec(deps) + 600,
      joinTime: nowSec(deps),
    });
    expect(stored?.objects).toEqual({ '1': STORED['1'], '3303': STORED['3303'] });
  });

  test('emits devIncoming with the public record and devStatus online', async () => {
    await registerDeviceKeepingEvents('n1');
    const incoming = deps.events.of('devIncoming');
    expect(incoming).toHaveLength(1);
    expect(incoming[0].clientId).toBe('n1');
    expect(incoming[0].data).toMatchObject({ clientId: 'n1', mac: 'aa:bb:cc:00:00:01', status: 'online' });
    expect(incoming[0].data).not.toHaveProperty('objects');
    expect(deps.events.of('devStatus').map((e) => e.data)).toEqual(['online']);
  });

  test('uses the default lifetime and an empty version when they are omitted', async () => {
    const { lifetime: _l, version: _v, ...body } = registerBody();
    await register(message('register/n1', body), deps);
    await answerReads(deps, 'n1');
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 201 }]);
    expect(await device('n1')).toMatchObject({ lifetime: 86_400, version: '', expiresAt: nowSec(deps) + 86_400 });
  });

  test('an empty objList registers at once with no reads', async () => {
    await register(message('register/n1', registerBody({ objList: {} })), deps);
    expect(readsOf('n1')).toEqual([]);
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 201 }]);
    expect((await device('n1'))?.objects).toEqual({});
  });

  test('a redelivered register while its reads are under way sends no second round of reads', async () => {
    await register(message('register/n1', registerBody()), deps);
    await register(message('register/n1', registerBody()), deps);
    expect(readsOf('n1')).toHaveLength(2);
    await answerReads(deps, 'n1');
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 201 }]);
  });

  test('a read answered with an error fails the registration with 500 and keeps nothing', async () => {
    await register(message('register/n1', registerBody()), deps);
    await answerReads(deps, 'n1', {}, 404);
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 500 }]);
    expect(await device('n1')).toBeNull();
    expect(deps.events.events).toEqual([]);
  });

  test('object trees too large for the store fail the registration with 500, not a crash', async () => {
    const objList = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(40000 + i), [0]]));
    const trees = Object.fromEntries(Object.keys(objList).map((oid) => [oid, { '0': { '1': 'x'.repeat(60_000) } }]));
    await register(message('register/n1', registerBody({ objList })), deps);
    await expect(answerReads(deps, 'n1', trees)).resolves.toBe(10);
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 500 }]);
    expect(await device('n1')).toBeNull();
  });

  test('a read answered 205 without an object tree fails the registration with 500', async () => {
    await register(message('register/n1', registerBody()), deps);
    await answerReads(deps, 'n1', { '1': 'not a tree', '3303': [1, 2] });
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 500 }]);
    expect(await device('n1')).toBeNull();
  });
});

describe('objList forms', () => {
  test.each([
    [
      'the seed form',
      [
        { oid: 3303, iid: 1 },
        { oid: 1, iid: 0 },
        { oid: 3303, iid: 0 },
      ],
    ],
    ['the reference client form', { '3303': [1, 0], '1': [0] }],
    [
      'names and duplicates',
      [
        { oid: 'temperature', iid: 0 },
        { oid: 'lwm2mServer', iid: '0' },
        { oid: 3303, iid: 1 },
        { oid: '3303', iid: 0 },
      ],
    ],
    ['string ids in the client form', { temperature: ['1', 0], '1': ['0'] }],
  ])('%s is stored canonically', async (_name, objList) => {
    await register(message('register/n1', registerBody({ objList })), deps);
    expect(
      readsOf('n1')
        .map((r) => r.oid)
        .sort(),
    ).toEqual([1, 3303]);
    await answerReads(deps, 'n1');
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 201 }]);
    expect((await device('n1'))?.objList).toEqual({ '1': [0], '3303': [0, 1] });
  });
});

describe('200: a known client registers again', () => {
  test('with the same mac (any case) it is answered 200 without reads, and its lifetime renewed', async () => {
    const first = await registerDevice(deps, 'n1');
    deps.clock.advance(300_000);
    await register(message('register/n1', registerBody({ transId: 7, mac: MAC.toLowerCase() })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 7, status: 200 }]);
    expect(readsOf('n1')).toEqual([]);
    const after = await device('n1');
    expect(after?.expiresAt).toBe(nowSec(deps) + 600);
    expect(after?.expiresAt).toBeGreaterThan(first.expiresAt);
    expect(after?.joinTime).toBe(first.joinTime);
    expect(after?.objects).toEqual(first.objects);
    expect(deps.events.of('devIncoming')).toEqual([]);
  });

  test('the same objList sent in the other form, or with object names, is no change: no reads', async () => {
    await registerDevice(deps, 'n1');
    const seedForm = [
      { oid: 'temperature', iid: 1 },
      { oid: 'lwm2mServer', iid: 0 },
      { oid: 3303, iid: 0 },
    ];
    await register(message('register/n1', registerBody({ transId: 16, objList: seedForm })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 16, status: 200 }]);
    expect(readsOf('n1')).toEqual([]);
  });

  test('an unchanged objList of objects the dictionary does not know is no change either', async () => {
    const objList = { zeta: [0], alpha: ['b', 'a'], '3303': [0] };
    await register(message('register/n1', registerBody({ objList })), deps);
    await answerReads(deps, 'n1', {
      zeta: { '0': { x: 1 } },
      alpha: { a: { y: 1 }, b: { y: 2 } },
      '3303': { '0': { sensorValue: 1 } },
    });
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 201 }]);
    deps.publisher.clear();
    await register(
      message('register/n1', registerBody({ transId: 17, objList: { '3303': [0], alpha: ['a', 'b'], zeta: [0] } })),
      deps,
    );
    expect(answersTo('n1')).toEqual([{ transId: 17, status: 200 }]);
    expect(readsOf('n1')).toEqual([]);
  });

  test('changed attributes are stored and reported in devUpdate', async () => {
    await registerDevice(deps, 'n1');
    await register(message('register/n1', registerBody({ transId: 8, ip: '10.0.0.9', lifetime: 900 })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 8, status: 200 }]);
    expect(await device('n1')).toMatchObject({ ip: '10.0.0.9', lifetime: 900, expiresAt: nowSec(deps) + 900 });
    expect(deps.events.of('devUpdate').map((e) => e.data)).toEqual([{ ip: '10.0.0.9', lifetime: 900 }]);
  });

  test('an unchanged re-register emits no devUpdate', async () => {
    await registerDevice(deps, 'n1');
    await register(message('register/n1', registerBody({ transId: 9 })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 9, status: 200 }]);
    expect(deps.events.of('devUpdate')).toEqual([]);
  });

  test('a changed objList re-reads every object and replaces the stored tree before answering 200', async () => {
    await registerDevice(deps, 'n1');
    await register(message('register/n1', registerBody({ transId: 10, objList: { '3': [0], '3303': [1] } })), deps);
    expect(
      readsOf('n1')
        .map((r) => r.oid)
        .sort(),
    ).toEqual([3, 3303]);
    expect(answersTo('n1')).toEqual([]);

    await answerReads(deps, 'n1', { '3': { '0': { manuf: 'acme' } }, '3303': { '1': { sensorValue: 5 } } });
    expect(answersTo('n1')).toEqual([{ transId: 10, status: 200 }]);
    const after = await device('n1');
    expect(after?.objList).toEqual({ '3': [0], '3303': [1] });
    expect(after?.objects).toEqual({ '3': { '0': { '0': 'acme' } }, '3303': { '1': { '5700': 5 } } });
    expect(deps.events.of('devUpdate').map((e) => e.data)).toEqual([{ objList: { '3': [0], '3303': [1] } }]);
    expect(deps.events.of('devIncoming')).toEqual([]);
  });

  test('a failed re-read answers 500 and keeps the record as it was', async () => {
    const before = await registerDevice(deps, 'n1');
    await register(message('register/n1', registerBody({ transId: 18, objList: { '3': [0] } })), deps);
    await answerReads(deps, 'n1', {}, 500);
    expect(answersTo('n1')).toEqual([{ transId: 18, status: 500 }]);
    const after = await device('n1');
    expect(after?.objList).toEqual(before.objList);
    expect(after?.objects).toEqual(before.objects);
  });

  test('a sleeping or offline client is online again after re-registering', async () => {
    await registerDevice(deps, 'n1');
    await deps.devices.apply('n1', setStatus('offline', ['online'], deps.clock.now()));
    await register(message('register/n1', registerBody({ transId: 11 })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 11, status: 200 }]);
    expect((await device('n1'))?.status).toBe('online');
    expect(deps.events.of('devStatus').map((e) => e.data)).toEqual(['online']);
  });

  test('an expired client registers anew with 201', async () => {
    await registerDevice(deps, 'n1');
    deps.clock.advance(601_000);
    await register(message('register/n1', registerBody({ transId: 12 })), deps);
    await answerReads(deps, 'n1');
    expect(answersTo('n1')).toEqual([{ transId: 12, status: 201 }]);
    expect(deps.events.of('devIncoming')).toHaveLength(1);
  });
});

describe('409: the clientId belongs to another mac', () => {
  test('is refused without reads and leaves the record as it was', async () => {
    const before = await registerDevice(deps, 'n1');
    await register(message('register/n1', registerBody({ transId: 13, mac: 'aa:bb:cc:00:00:02', ip: '6.6.6.6' })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 13, status: 409 }]);
    expect(readsOf('n1')).toEqual([]);
    expect(await device('n1')).toEqual(before);
    expect(deps.events.events).toEqual([]);
  });

  test('the mac compare ignores case in both directions', async () => {
    await registerDevice(deps, 'n1', { mac: 'aa:bb:cc:dd:ee:ff' });
    await register(message('register/n1', registerBody({ transId: 14, mac: 'AA:BB:CC:DD:EE:FF' })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 14, status: 200 }]);
    expect((await device('n1'))?.mac).toBe('aa:bb:cc:dd:ee:ff');
  });

  test('two clients may share one mac', async () => {
    await registerDevice(deps, 'n1');
    await registerDevice(deps, 'n2');
    expect((await device('n1'))?.mac).toBe((await device('n2'))?.mac);
  });
});

describe('401: join not permitted', () => {
  beforeEach(async () => (deps = await makeDeps(store, { join: 'permit' })));

  test('a new client is refused outside a permit-join window', async () => {
    await register(message('register/n1', registerBody()), deps);
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 401 }]);
    expect(readsOf('n1')).toEqual([]);
    expect(await device('n1')).toBeNull();
  });

  test('a window that already closed does not help', async () => {
    await deps.settings.setJoinUntilMs(deps.clock.now() - 1);
    await register(message('register/n1', registerBody()), deps);
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 401 }]);
  });

  test('inside a permit-join window the client registers with 201', async () => {
    await deps.settings.setJoinUntilMs(deps.clock.now() + 60_000);
    await register(message('register/n1', registerBody()), deps);
    await answerReads(deps, 'n1');
    expect(answersTo('n1')).toEqual([{ transId: 101, status: 201 }]);
  });

  test('a known client re-registers with 200 after the window closed', async () => {
    await deps.settings.setJoinUntilMs(deps.clock.now() + 60_000);
    await registerDevice(deps, 'n1');
    deps.clock.advance(120_000);
    await register(message('register/n1', registerBody({ transId: 15 })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 15, status: 200 }]);
  });
});

describe('400: a bad register', () => {
  test.each([
    ['missing mac', { mac: undefined }],
    ['missing ip', { ip: undefined }],
    ['missing objList', { objList: undefined }],
    ['an unknown field', { colour: 'blue' }],
    ['mac as a number', { mac: 42 }],
    ['an empty mac', { mac: '' }],
    ['ip as an array', { ip: ['127.0.0.1'] }],
    ['lifetime as a string', { lifetime: '600' }],
    ['lifetime 0', { lifetime: 0 }],
    ['a fractional lifetime', { lifetime: 1.5 }],
    ['version as a number', { version: 1 }],
    ['objList as a string', { objList: '1,3303' }],
    ['objList entries missing iid', { objList: [{ oid: 1 }] }],
    ['objList entries with extra keys', { objList: [{ oid: 1, iid: 0, x: 1 }] }],
    ['objList with a negative iid', { objList: { '1': [-1] } }],
    ['objList with an iid that is not a list', { objList: { '1': 0 } }],
  ])('%s is answered 400 with the transId echoed', async (_name, overrides) => {
    await register(message('register/n1', registerBody({ transId: 77, ...overrides })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 77, status: 400 }]);
    expect(readsOf('n1')).toEqual([]);
    expect(await device('n1')).toBeNull();
  });

  test('an objList over 1024 entries is a 400', async () => {
    const objList = Array.from({ length: 1025 }, (_, i) => ({ oid: 3303, iid: i }));
    await register(message('register/n1', registerBody({ transId: 78, objList })), deps);
    expect(answersTo('n1')).toEqual([{ transId: 78, status: 400 }]);
  });
});

describe('malformed input', () => {
  test.each(malformedPayloads(registerBody({ transId: 55 })))(
    '%s: 400, nothing read, the known record unchanged',
    async (_name, raw, echoed) => {
      const before = await registerDevice(deps, 'n1');
      deps.clock.advance(5_000);
      await expect(register(message('register/n1', raw), deps)).resolves.toBeUndefined();
      expect(deps.publisher.published.map((p) => [p.topic, p.json()])).toEqual([
        ['register/response/n1', { transId: echoed, status: 400 }],
      ]);
      expect(deps.events.events).toEqual([]);
      expect(await device('n1')).toEqual(before);
      expect(prototypeIsClean()).toBe(true);
    },
  );

  test('a spoofed publisher (mqttClientId is not the topic clientId) is dropped unanswered', async () => {
    const before = await registerDevice(deps, 'n1');
    await register(message('register/n1', registerBody({ transId: 3, mac: 'ee:ee:ee:ee:ee:ee' }), 'intruder'), deps);
    await register(message('register/n9', registerBody({ transId: 4 }), 'intruder'), deps);
    expect(deps.publisher.published).toEqual([]);
    expect(await device('n1')).toEqual(before);
    expect(await device('n9')).toBeNull();
  });

  test('a matching mqttClientId is accepted', async () => {
    await register(message('register/n1', registerBody(), 'n1'), deps);
    expect(readsOf('n1')).toHaveLength(2);
  });

  test.each(foreignTopics('register', 'n1'))('foreign topic %j is dropped unanswered', async (topic) => {
    await expect(register(message(topic, registerBody()), deps)).resolves.toBeUndefined();
    expect(deps.publisher.published).toEqual([]);
  });
});

/** registerDevice clears the recorders; this keeps the events of the registration. */
async function registerDeviceKeepingEvents(id: string): Promise<void> {
  await register(message(`register/${id}`, registerBody()), deps);
  await answerReads(deps, id);
}
