import { update } from '../../functions/update';
import { MAC, answerReads, nowSec, registerDevice } from '../helpers/devices';
import { foreignTopics, malformedPayloads, prototypeIsClean } from '../helpers/malformed';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { setStatus } from '../../shared/store/device-writes';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

const answersTo = (id: string) => deps.publisher.on(`update/response/${id}`);
const readsOf = (id: string) => deps.publisher.on(`request/${id}`);
const device = (id: string) => deps.devices.get(id, deps.clock.now());
const send = (id: string, body: unknown, mqttClientId?: string) => update(message(`update/${id}`, body, mqttClientId), deps);

describe('204: attributes changed', () => {
  test('stores ip, version and lifetime, renews the lifetime and emits devUpdate with what changed', async () => {
    await registerDevice(deps, 'n1');
    deps.clock.advance(100_000);
    await send('n1', { transId: 20, ip: '10.0.0.2', version: '0.0.1', lifetime: 1200 });
    expect(answersTo('n1')).toEqual([{ transId: 20, status: 204 }]);
    expect(await device('n1')).toMatchObject({
      ip: '10.0.0.2',
      version: '0.0.1',
      lifetime: 1200,
      expiresAt: nowSec(deps) + 1200,
    });
    expect(deps.events.of('devUpdate').map((e) => e.data)).toEqual([{ ip: '10.0.0.2', lifetime: 1200 }]);
    expect(readsOf('n1')).toEqual([]);
  });

  test('an update that changes nothing still renews the lifetime but emits no devUpdate', async () => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(100_000);
    await send('n1', { transId: 21, ip: before.ip });
    expect(answersTo('n1')).toEqual([{ transId: 21, status: 204 }]);
    expect((await device('n1'))?.expiresAt).toBe(nowSec(deps) + 600);
    expect(deps.events.of('devUpdate')).toEqual([]);
  });

  test('the same mac in another case is ignored, not a 409', async () => {
    await registerDevice(deps, 'n1');
    await send('n1', { transId: 22, mac: MAC.toLowerCase(), ip: '10.0.0.3' });
    expect(answersTo('n1')).toEqual([{ transId: 22, status: 204 }]);
    expect(await device('n1')).toMatchObject({ mac: MAC.toLowerCase(), ip: '10.0.0.3' });
  });

  test('an offline device that updates is online again', async () => {
    await registerDevice(deps, 'n1');
    await deps.devices.apply('n1', setStatus('offline', ['online'], deps.clock.now()));
    await send('n1', { transId: 23, version: '2' });
    expect(answersTo('n1')).toEqual([{ transId: 23, status: 204 }]);
    expect((await device('n1'))?.status).toBe('online');
    expect(deps.events.of('devStatus').map((e) => e.data)).toEqual(['online']);
  });
});

describe('204 after re-reading: an update carrying objList', () => {
  test('reads every object of the new list, then replaces the whole tree and answers 204', async () => {
    await registerDevice(deps, 'n1');
    await send('n1', {
      transId: 30,
      objList: [
        { oid: 3, iid: 0 },
        { oid: 'temperature', iid: 1 },
      ],
    });
    expect(
      readsOf('n1')
        .map((r) => [r.cmdId, r.oid])
        .sort(),
    ).toEqual([
      [0, 3],
      [0, 3303],
    ]);
    expect(answersTo('n1')).toEqual([]);

    await answerReads(deps, 'n1', { '3': { '0': { manuf: 'acme' } }, '3303': { '1': { sensorValue: 7 } } });
    expect(answersTo('n1')).toEqual([{ transId: 30, status: 204 }]);
    const after = await device('n1');
    expect(after?.objList).toEqual({ '3': [0], '3303': [1] });
    // The old tree (object 1, instance 3303/0) is gone: replaced, not merged.
    expect(after?.objects).toEqual({ '3': { '0': { '0': 'acme' } }, '3303': { '1': { '5700': 7 } } });
    expect(deps.events.of('devUpdate').map((e) => e.data)).toEqual([{ objList: { '3': [0], '3303': [1] } }]);
  });

  test('other attributes sent with the objList are stored with it', async () => {
    await registerDevice(deps, 'n1');
    await send('n1', { transId: 31, ip: '10.1.1.1', objList: { '1': [0] } });
    await answerReads(deps, 'n1');
    expect(answersTo('n1')).toEqual([{ transId: 31, status: 204 }]);
    expect(await device('n1')).toMatchObject({ ip: '10.1.1.1', objList: { '1': [0] } });
  });

  test('a failed read answers 500 and keeps the old tree', async () => {
    const before = await registerDevice(deps, 'n1');
    await send('n1', { transId: 32, objList: { '3': [0] } });
    await answerReads(deps, 'n1', {}, 500);
    expect(answersTo('n1')).toEqual([{ transId: 32, status: 500 }]);
    const after = await device('n1');
    expect(after?.objList).toEqual(before.objList);
    expect(after?.objects).toEqual(before.objects);
  });
});

describe('400, 404, 409', () => {
  test.each([
    ['an unknown field', { transId: 40, ip: '1.1.1.1', colour: 'red' }],
    ['no attribute at all', { transId: 40 }],
    ['ip as a number', { transId: 40, ip: 1 }],
    ['lifetime 0', { transId: 40, lifetime: 0 }],
    ['lifetime as a string', { transId: 40, lifetime: '60' }],
    ['a bad objList', { transId: 40, objList: [{ oid: 1 }] }],
    ['ip null', { transId: 40, ip: null }],
  ])('%s is a 400 and changes nothing', async (_name, body) => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(5_000);
    await send('n1', body);
    expect(answersTo('n1')).toEqual([{ transId: 40, status: 400 }]);
    expect(await device('n1')).toEqual(before);
  });

  test('an unregistered client gets 404 and nothing is created', async () => {
    await send('ghost', { transId: 41, ip: '1.2.3.4' });
    await send('ghost', { transId: 42, objList: { '1': [0] } });
    expect(answersTo('ghost')).toEqual([
      { transId: 41, status: 404 },
      { transId: 42, status: 404 },
    ]);
    expect(readsOf('ghost')).toEqual([]);
    expect(await device('ghost')).toBeNull();
  });

  test('an expired client gets 404', async () => {
    await registerDevice(deps, 'n1');
    deps.clock.advance(601_000);
    await send('n1', { transId: 43, ip: '1.2.3.4' });
    expect(answersTo('n1')).toEqual([{ transId: 43, status: 404 }]);
  });

  test('another mac is a 409 and changes nothing, even with other attributes or an objList', async () => {
    const before = await registerDevice(deps, 'n1');
    await send('n1', { transId: 44, mac: 'aa:bb:cc:00:00:02', ip: '6.6.6.6' });
    await send('n1', { transId: 45, mac: 'aa:bb:cc:00:00:02', objList: { '3': [0] } });
    expect(answersTo('n1')).toEqual([
      { transId: 44, status: 409 },
      { transId: 45, status: 409 },
    ]);
    expect(readsOf('n1')).toEqual([]);
    expect(await device('n1')).toEqual(before);
    expect(deps.events.events).toEqual([]);
  });
});

describe('malformed input', () => {
  test.each(malformedPayloads({ transId: 56, ip: '10.9.9.9' }))('%s: 400 and the record unchanged', async (_name, raw, echoed) => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(5_000);
    await expect(send('n1', raw)).resolves.toBeUndefined();
    expect(deps.publisher.published.map((p) => [p.topic, p.json()])).toEqual([
      ['update/response/n1', { transId: echoed, status: 400 }],
    ]);
    expect(deps.events.events).toEqual([]);
    expect(await device('n1')).toEqual(before);
    expect(prototypeIsClean()).toBe(true);
  });

  test('a spoofed publisher is dropped unanswered and changes nothing', async () => {
    const before = await registerDevice(deps, 'n1');
    await send('n1', { transId: 57, ip: '6.6.6.6', objList: { '3': [0] } }, 'intruder');
    expect(deps.publisher.published).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });

  test.each(foreignTopics('update', 'n1'))('foreign topic %j is dropped unanswered', async (topic) => {
    const before = await registerDevice(deps, 'n1');
    await expect(update(message(topic, { transId: 58, ip: '6.6.6.6' }), deps)).resolves.toBeUndefined();
    expect(deps.publisher.published).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });
});
