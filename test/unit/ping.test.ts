import { ping } from '../../functions/ping';
import { nowSec, registerDevice } from '../helpers/devices';
import { foreignTopics, malformedPayloads, prototypeIsClean } from '../helpers/malformed';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { setStatus } from '../../shared/store/device-writes';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

const answersTo = (id: string) => deps.publisher.on(`ping/response/${id}`);
const device = (id: string) => deps.devices.get(id, deps.clock.now());
const send = (id: string, body: unknown, mqttClientId?: string) => ping(message(`ping/${id}`, body, mqttClientId), deps);

describe('200', () => {
  test('answers 200 and renews expiresAt from now, changing nothing else', async () => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(500_000);
    await send('n1', { transId: 1 });
    expect(answersTo('n1')).toEqual([{ transId: 1, status: 200 }]);
    const after = await device('n1');
    expect(after?.expiresAt).toBe(nowSec(deps) + 600);
    expect(after?.expiresAt).toBeGreaterThan(before.expiresAt);
    expect({ ...after, expiresAt: 0 }).toEqual({ ...before, expiresAt: 0 });
    expect(deps.events.events).toEqual([]);
  });

  test('a ping keeps a device alive past its first lifetime', async () => {
    await registerDevice(deps, 'n1');
    deps.clock.advance(590_000);
    await send('n1', { transId: 2 });
    deps.clock.advance(590_000);
    expect(await device('n1')).not.toBeNull();
  });

  test('an unknown field is a 400 and renews nothing', async () => {
    await registerDevice(deps, 'n1');
    const before = await device('n1');
    deps.clock.advance(5_000);
    await send('n1', { transId: 3, uptime: 12 });
    expect(answersTo('n1')).toEqual([{ transId: 3, status: 400 }]);
    expect(await device('n1')).toEqual(before);
  });

  test('an offline device that pings is online again, with devStatus', async () => {
    await registerDevice(deps, 'n1');
    await deps.devices.apply('n1', setStatus('offline', ['online'], deps.clock.now()));
    await send('n1', { transId: 4 });
    expect(answersTo('n1')).toEqual([{ transId: 4, status: 200 }]);
    expect((await device('n1'))?.status).toBe('online');
    expect(deps.events.of('devStatus').map((e) => e.data)).toEqual(['online']);
  });

  test('an online device that pings emits no devStatus', async () => {
    await registerDevice(deps, 'n1');
    await send('n1', { transId: 5 });
    expect(deps.events.of('devStatus')).toEqual([]);
  });
});

describe('404', () => {
  test('an unregistered client gets 404 and is not created', async () => {
    await send('ghost', { transId: 6 });
    expect(answersTo('ghost')).toEqual([{ transId: 6, status: 404 }]);
    expect(await device('ghost')).toBeNull();
  });

  test('an expired client gets 404 and is not revived', async () => {
    await registerDevice(deps, 'n1');
    deps.clock.advance(601_000);
    await send('n1', { transId: 7 });
    expect(answersTo('n1')).toEqual([{ transId: 7, status: 404 }]);
    expect(await device('n1')).toBeNull();
  });
});

describe('malformed input', () => {
  test.each(malformedPayloads({ transId: 64 }))('%s: 400 and no renewal', async (_name, raw, echoed) => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(5_000);
    await expect(send('n1', raw)).resolves.toBeUndefined();
    expect(deps.publisher.published.map((p) => [p.topic, p.json()])).toEqual([
      ['ping/response/n1', { transId: echoed, status: 400 }],
    ]);
    expect(await device('n1')).toEqual(before);
    expect(prototypeIsClean()).toBe(true);
  });

  test('a spoofed ping is dropped unanswered and renews nothing', async () => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(5_000);
    await send('n1', { transId: 65 }, 'intruder');
    expect(deps.publisher.published).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });

  test.each(foreignTopics('ping', 'n1'))('foreign topic %j is dropped unanswered', async (topic) => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(5_000);
    await expect(ping(message(topic, { transId: 66 }), deps)).resolves.toBeUndefined();
    expect(deps.publisher.published).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });
});
