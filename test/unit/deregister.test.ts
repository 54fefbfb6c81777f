import { deregister } from '../../functions/deregister';
import { ping } from '../../functions/ping';
import { registerDevice } from '../helpers/devices';
import { foreignTopics, malformedPayloads, prototypeIsClean } from '../helpers/malformed';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

const answersTo = (id: string) => deps.publisher.on(`deregister/response/${id}`);
const device = (id: string) => deps.devices.get(id, deps.clock.now());
const send = (id: string, body: unknown, mqttClientId?: string) => deregister(message(`deregister/${id}`, body, mqttClientId), deps);

describe('202: deleted', () => {
  test('removes the device, answers 202 and emits devLeaving with its mac', async () => {
    await registerDevice(deps, 'n1');
    await send('n1', { transId: 1 });
    expect(answersTo('n1')).toEqual([{ transId: 1, status: 202 }]);
    expect(await device('n1')).toBeNull();
    const leaving = deps.events.of('devLeaving');
    expect(leaving).toHaveLength(1);
    expect(leaving[0]).toMatchObject({ clientId: 'n1', data: 'aa:bb:cc:00:00:01' });
  });

  test('a deregister with a valid transId and an unknown field is a 400 and removes nothing', async () => {
    await registerDevice(deps, 'n1');
    const before = await device('n1');
    await send('n1', { transId: 2, reason: 'shutdown' });
    expect(answersTo('n1')).toEqual([{ transId: 2, status: 400 }]);
    expect(await device('n1')).toEqual(before);
    expect(deps.events.of('devLeaving')).toEqual([]);
  });

  test('only the named client is removed', async () => {
    await registerDevice(deps, 'n1');
    await registerDevice(deps, 'n2');
    await send('n1', { transId: 3 });
    expect(await device('n1')).toBeNull();
    expect(await device('n2')).not.toBeNull();
  });

  test('after a deregister the client is unknown to the other channels', async () => {
    await registerDevice(deps, 'n1');
    await send('n1', { transId: 4 });
    await ping(message('ping/n1', { transId: 5 }), deps);
    expect(deps.publisher.on('ping/response/n1')).toEqual([{ transId: 5, status: 404 }]);
  });
});

describe('404: not registered', () => {
  test('an unknown client gets 404 and no devLeaving', async () => {
    await send('ghost', { transId: 6 });
    expect(answersTo('ghost')).toEqual([{ transId: 6, status: 404 }]);
    expect(deps.events.events).toEqual([]);
  });

  test('a second deregister gets 404', async () => {
    await registerDevice(deps, 'n1');
    await send('n1', { transId: 7 });
    await send('n1', { transId: 8 });
    expect(answersTo('n1')).toEqual([
      { transId: 7, status: 202 },
      { transId: 8, status: 404 },
    ]);
    expect(deps.events.of('devLeaving')).toHaveLength(1);
  });

  test('an expired client gets 404 and no devLeaving from this channel', async () => {
    await registerDevice(deps, 'n1');
    deps.clock.advance(601_000);
    await send('n1', { transId: 9 });
    expect(answersTo('n1')).toEqual([{ transId: 9, status: 404 }]);
    expect(deps.events.of('devLeaving')).toEqual([]);
  });
});

describe('malformed input', () => {
  test.each(malformedPayloads({ transId: 61 }))('%s: 400 and the device kept', async (_name, raw, echoed) => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(5_000);
    await expect(send('n1', raw)).resolves.toBeUndefined();
    expect(deps.publisher.published.map((p) => [p.topic, p.json()])).toEqual([
      ['deregister/response/n1', { transId: echoed, status: 400 }],
    ]);
    expect(deps.events.events).toEqual([]);
    expect(await device('n1')).toEqual(before);
    expect(prototypeIsClean()).toBe(true);
  });

  test('a spoofed publisher cannot deregister someone else', async () => {
    const before = await registerDevice(deps, 'n1');
    await send('n1', { transId: 62 }, 'intruder');
    expect(deps.publisher.published).toEqual([]);
    expect(deps.events.events).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });

  test.each(foreignTopics('deregister', 'n1'))('foreign topic %j is dropped unanswered', async (topic) => {
    const before = await registerDevice(deps, 'n1');
    await expect(deregister(message(topic, { transId: 63 }), deps)).resolves.toBeUndefined();
    expect(deps.publisher.published).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });
});
