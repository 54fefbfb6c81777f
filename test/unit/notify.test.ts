import { notify } from '../../functions/notify';
import { register } from '../../functions/register';
import { answerReads, nowSec, registerBody, registerDevice } from '../helpers/devices';
import { foreignTopics, malformedPayloads, prototypeIsClean } from '../helpers/malformed';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { changeDevice, setStatus } from '../../shared/store/device-writes';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => {
  deps = await makeDeps(store);
  await registerDevice(deps, 'n1');
});

const answersTo = (id: string) => deps.publisher.on(`notify/response/${id}`);
const device = (id: string) => deps.devices.get(id, deps.clock.now());
const objects = async (id: string) => (await device(id))?.objects;
const send = (id: string, body: unknown, mqttClientId?: string) => notify(message(`notify/${id}`, body, mqttClientId), deps);

describe('204: a resource notify', () => {
  test('stores the value, renews the lifetime and emits devNotify and devChange', async () => {
    deps.clock.advance(200_000);
    await send('n1', { transId: 1, oid: 3303, iid: 0, rid: 5700, data: 30 });
    expect(answersTo('n1')).toEqual([{ transId: 1, status: 204 }]);
    const after = await device('n1');
    expect(after?.objects['3303']['0']).toEqual({ '5700': 30, '5701': 'C' });
    expect(after?.objects['3303']['1']).toEqual({ '5700': 19, '5701': 'C' });
    expect(after?.expiresAt).toBe(nowSec(deps) + 600);
    expect(deps.events.of('devNotify').map((e) => e.data)).toEqual([{ oid: 3303, iid: 0, rid: 5700, data: 30 }]);
    expect(deps.events.of('devChange').map((e) => e.data)).toEqual([{ oid: 3303, iid: 0, rid: 5700, data: 30 }]);
  });

  test.each([
    ['numeric ids', { oid: 3303, iid: 1, rid: 5700 }],
    ['numeric strings', { oid: '3303', iid: '1', rid: '5700' }],
    ['names', { oid: 'temperature', iid: 1, rid: 'sensorValue' }],
    ['a name for the resource only', { oid: 3303, iid: 1, rid: 'sensorValue' }],
    ['a name for the object only', { oid: 'temperature', iid: '1', rid: 5700 }],
  ])('%s address the same stored resource', async (_name, where) => {
    await send('n1', { transId: 2, ...where, data: 42 });
    expect(answersTo('n1')).toEqual([{ transId: 2, status: 204 }]);
    expect((await objects('n1'))?.['3303']['1']).toEqual({ '5700': 42, '5701': 'C' });
    expect(deps.events.of('devChange').map((e) => e.data)).toEqual([{ oid: 3303, iid: 1, rid: 5700, data: 42 }]);
  });

  test('devChange only when the value really changed; devNotify every time', async () => {
    await send('n1', { transId: 3, oid: 3303, iid: 0, rid: 5700, data: 21.5 });
    await send('n1', { transId: 4, oid: 3303, iid: 0, rid: 5700, data: 25 });
    await send('n1', { transId: 5, oid: 'temperature', iid: 0, rid: 'sensorValue', data: 25 });
    expect(answersTo('n1').map((a) => a.status)).toEqual([204, 204, 204]);
    expect(deps.events.of('devNotify')).toHaveLength(3);
    expect(deps.events.of('devChange').map((e) => e.data)).toEqual([{ oid: 3303, iid: 0, rid: 5700, data: 25 }]);
  });

  test('structured values are stored and compared deeply', async () => {
    const value = { a: [1, 2, { b: 'c' }], d: null };
    await send('n1', { transId: 6, oid: 3303, iid: 0, rid: 5701, data: value });
    await send('n1', { transId: 7, oid: 3303, iid: 0, rid: 5701, data: { a: [1, 2, { b: 'c' }], d: null } });
    expect(answersTo('n1').map((a) => a.status)).toEqual([204, 204]);
    expect((await objects('n1'))?.['3303']['0']['5701']).toEqual(value);
    expect(deps.events.of('devChange')).toHaveLength(1);
  });

  test('null is a value', async () => {
    await send('n1', { transId: 8, oid: 3303, iid: 0, rid: 5701, data: null });
    expect(answersTo('n1')).toEqual([{ transId: 8, status: 204 }]);
    expect((await objects('n1'))?.['3303']['0']).toEqual({ '5700': 21.5, '5701': null });
  });

  test('an offline device that notifies is online again', async () => {
    await deps.devices.apply('n1', setStatus('offline', ['online'], deps.clock.now()));
    await send('n1', { transId: 9, oid: 3303, iid: 0, rid: 5700, data: 1 });
    expect((await device('n1'))?.status).toBe('online');
    expect(deps.events.of('devStatus').map((e) => e.data)).toEqual(['online']);
  });

  test('a sleeping device that notifies stays asleep', async () => {
    await deps.devices.apply('n1', changeDevice({ status: 'sleep' }, deps.clock.now()));
    await send('n1', { transId: 10, oid: 3303, iid: 0, rid: 5700, data: 1 });
    expect(answersTo('n1')).toEqual([{ transId: 10, status: 204 }]);
    expect((await device('n1'))?.status).toBe('sleep');
    expect(deps.events.of('devStatus')).toEqual([]);
  });
});

describe('204: an instance notify', () => {
  test('stores every resource given, by name or id, and devChange carries only what changed', async () => {
    await send('n1', { transId: 11, oid: 'temperature', iid: 0, data: { sensorValue: 23, '5701': 'C' } });
    expect(answersTo('n1')).toEqual([{ transId: 11, status: 204 }]);
    expect((await objects('n1'))?.['3303']['0']).toEqual({ '5700': 23, '5701': 'C' });
    expect(deps.events.of('devNotify').map((e) => e.data)).toEqual([{ oid: 3303, iid: 0, data: { sensorValue: 23, '5701': 'C' } }]);
    expect(deps.events.of('devChange').map((e) => e.data)).toEqual([{ oid: 3303, iid: 0, data: { '5700': 23 } }]);
  });

  test('an instance notify that changes nothing emits no devChange', async () => {
    await send('n1', { transId: 12, oid: 3303, iid: 1, data: { '5700': 19, units: 'C' } });
    expect(answersTo('n1')).toEqual([{ transId: 12, status: 204 }]);
    expect(deps.events.of('devNotify')).toHaveLength(1);
    expect(deps.events.of('devChange')).toEqual([]);
  });

  test('a mix of known and unknown resources is a 404 and stores nothing', async () => {
    const before = await device('n1');
    await send('n1', { transId: 13, oid: 3303, iid: 0, data: { sensorValue: 99, noSuchResource: 1 } });
    expect(answersTo('n1')).toEqual([{ transId: 13, status: 404 }]);
    expect(await device('n1')).toEqual(before);
    expect(deps.events.events).toEqual([]);
  });
});

describe('404: unknown client, object, instance or resource', () => {
  test.each([
    ['an unknown object', { oid: 3, iid: 0, rid: 0 }],
    ['an unknown object by name', { oid: 'device', iid: 0, rid: 'manuf' }],
    ['an object name nobody knows', { oid: 'noSuchObject', iid: 0, rid: 5700 }],
    ['an unknown instance', { oid: 3303, iid: 7, rid: 5700 }],
    ['an unknown resource', { oid: 3303, iid: 0, rid: 5601 }],
    ['an unknown resource name', { oid: 3303, iid: 0, rid: 'noSuchResource' }],
    ['a resource id written with a leading zero', { oid: 3303, iid: 0, rid: '05700' }],
  ])('%s', async (_name, where) => {
    const before = await device('n1');
    await send('n1', { transId: 20, ...where, data: 1 });
    expect(answersTo('n1')).toEqual([{ transId: 20, status: 404 }]);
    expect(await device('n1')).toEqual(before);
    expect(deps.events.events).toEqual([]);
  });

  test('an unregistered client', async () => {
    await send('ghost', { transId: 21, oid: 3303, iid: 0, rid: 5700, data: 1 });
    expect(answersTo('ghost')).toEqual([{ transId: 21, status: 404 }]);
    expect(await device('ghost')).toBeNull();
  });

  test('an expired client', async () => {
    deps.clock.advance(601_000);
    await send('n1', { transId: 22, oid: 3303, iid: 0, rid: 5700, data: 1 });
    expect(answersTo('n1')).toEqual([{ transId: 22, status: 404 }]);
  });
});

describe('400: bad shape', () => {
  test.each([
    ['no data', { oid: 3303, iid: 0, rid: 5700 }],
    ['no oid', { iid: 0, rid: 5700, data: 1 }],
    ['no iid', { oid: 3303, rid: 5700, data: 1 }],
    ['an instance notify whose data is a number', { oid: 3303, iid: 0, data: 1 }],
    ['an instance notify whose data is an array', { oid: 3303, iid: 0, data: [1] }],
    ['an instance notify whose data is empty', { oid: 3303, iid: 0, data: {} }],
    ['an instance notify whose data is null', { oid: 3303, iid: 0, data: null }],
    ['an instance notify with a resource name over 64 characters', { oid: 3303, iid: 0, data: { ['r'.repeat(65)]: 1 } }],
    ['a negative oid', { oid: -1, iid: 0, rid: 5700, data: 1 }],
    ['a fractional iid', { oid: 3303, iid: 0.5, rid: 5700, data: 1 }],
    ['an empty rid', { oid: 3303, iid: 0, rid: '', data: 1 }],
    ['an oid as an object', { oid: { id: 3303 }, iid: 0, rid: 5700, data: 1 }],
    ['a boolean rid', { oid: 3303, iid: 0, rid: true, data: 1 }],
  ])('%s', async (_name, fields) => {
    const before = await device('n1');
    await send('n1', { transId: 30, ...fields });
    expect(answersTo('n1')).toEqual([{ transId: 30, status: 400 }]);
    expect(await device('n1')).toEqual(before);
  });

  test('a value the store cannot hold is a 400, not a crash', async () => {
    const before = await device('n1');
    await expect(send('n1', '{"transId":31,"oid":3303,"iid":0,"rid":5700,"data":1e200}')).resolves.toBeUndefined();
    expect(answersTo('n1')).toEqual([{ transId: 31, status: 400 }]);
    expect(await device('n1')).toEqual(before);
  });

  test('values that would grow the record beyond what the store holds are a 400, not a crash', async () => {
    const resources = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(i), 0]));
    await register(message('register/big', registerBody({ objList: { '3303': [0] } })), deps);
    await answerReads(deps, 'big', { '3303': { '0': resources } });
    for (let rid = 0; rid < 10; rid++) {
      await expect(send('big', { transId: rid, oid: 3303, iid: 0, rid, data: 'y'.repeat(60_000) })).resolves.toBeUndefined();
    }
    const statuses = answersTo('big').map((a) => a.status);
    expect(statuses.slice(0, 5)).toEqual([204, 204, 204, 204, 204]);
    expect(statuses.slice(-1)).toEqual([400]);
    expect(await device('big')).not.toBeNull();
  });

  test('a value that overflows to Infinity is a 400, not a crash', async () => {
    const before = await device('n1');
    await expect(send('n1', '{"transId":32,"oid":3303,"iid":0,"rid":5700,"data":-1e999}')).resolves.toBeUndefined();
    expect(answersTo('n1')).toEqual([{ transId: 32, status: 400 }]);
    expect(await device('n1')).toEqual(before);
  });

  test('an instance notify with an empty resource name is a 400, not a crash', async () => {
    const before = await device('n1');
    await expect(send('n1', { transId: 33, oid: 3303, iid: 0, data: { '': 1 } })).resolves.toBeUndefined();
    expect(answersTo('n1')).toEqual([{ transId: 33, status: 400 }]);
    expect(await device('n1')).toEqual(before);
  });

  test('names the dictionary does not know stay as given and never collide', async () => {
    // lwm2m-id answers its own methods for names like toString; they must not become one resource.
    await register(message('register/n2', registerBody({ objList: { '3303': [0] } })), deps);
    await answerReads(deps, 'n2', { '3303': { '0': { toString: 1, sensorValue: 2 } } });
    expect((await objects('n2'))?.['3303']['0']).toEqual({ toString: 1, '5700': 2 });

    await send('n2', { transId: 34, oid: 3303, iid: 0, rid: 'valueOf', data: 9 });
    await send('n2', { transId: 35, oid: 3303, iid: 0, rid: 'toString', data: 3 });
    expect(answersTo('n2')).toEqual([
      { transId: 34, status: 404 },
      { transId: 35, status: 204 },
    ]);
    expect((await objects('n2'))?.['3303']['0']).toEqual({ toString: 3, '5700': 2 });
  });
});

describe('malformed input', () => {
  test.each(malformedPayloads({ transId: 57, oid: 3303, iid: 0, rid: 5700, data: 77 }))(
    '%s: 400 and the record unchanged',
    async (_name, raw, echoed) => {
      const before = await device('n1');
      deps.clock.advance(5_000);
      await expect(send('n1', raw)).resolves.toBeUndefined();
      expect(deps.publisher.published.map((p) => [p.topic, p.json()])).toEqual([
        ['notify/response/n1', { transId: echoed, status: 400 }],
      ]);
      expect(deps.events.events).toEqual([]);
      expect(await device('n1')).toEqual(before);
      expect(prototypeIsClean()).toBe(true);
    },
  );

  test('__proto__ inside the notified value is refused, not stored', async () => {
    const before = await device('n1');
    await send('n1', '{"transId":58,"oid":3303,"iid":0,"data":{"__proto__":{"5700":1}}}');
    expect(answersTo('n1')).toEqual([{ transId: 58, status: 400 }]);
    expect(await device('n1')).toEqual(before);
  });

  test('a spoofed publisher is dropped unanswered and changes nothing', async () => {
    const before = await device('n1');
    await send('n1', { transId: 59, oid: 3303, iid: 0, rid: 5700, data: -40 }, 'intruder');
    expect(deps.publisher.published).toEqual([]);
    expect(deps.events.events).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });

  test.each(foreignTopics('notify', 'n1'))('foreign topic %j is dropped unanswered', async (topic) => {
    const before = await device('n1');
    await expect(notify(message(topic, { transId: 60, oid: 3303, iid: 0, rid: 5700, data: -40 }), deps)).resolves.toBeUndefined();
    expect(deps.publisher.published).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });
});
