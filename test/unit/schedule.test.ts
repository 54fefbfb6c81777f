import { notify } from '../../functions/notify';
import { reaper } from '../../functions/reaper';
import { schedule } from '../../functions/schedule';
import { nowSec, registerDevice } from '../helpers/devices';
import { foreignTopics, malformedPayloads, prototypeIsClean } from '../helpers/malformed';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { setStatus } from '../../shared/store/device-writes';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => {
  deps = await makeDeps(store);
  await registerDevice(deps, 'n1');
});

const answersTo = (id: string) => deps.publisher.on(`schedule/response/${id}`);
const device = (id: string) => deps.devices.get(id, deps.clock.now());
const statusOf = async (id: string) => (await device(id))?.status;
const statusEvents = () => deps.events.of('devStatus').map((e) => e.data);
const send = (id: string, body: unknown, mqttClientId?: string) => schedule(message(`schedule/${id}`, body, mqttClientId), deps);

describe('200: sleep and wake', () => {
  test('sleep sets status sleep, renews the lifetime and emits devStatus sleep', async () => {
    deps.clock.advance(100_000);
    await send('n1', { transId: 1, sleep: true });
    expect(answersTo('n1')).toEqual([{ transId: 1, status: 200 }]);
    expect(await device('n1')).toMatchObject({ status: 'sleep', expiresAt: nowSec(deps) + 600 });
    expect(statusEvents()).toEqual(['sleep']);
  });

  test('wake sets status online and emits devStatus online', async () => {
    await send('n1', { transId: 2, sleep: true });
    await send('n1', { transId: 3, sleep: false });
    expect(answersTo('n1')).toEqual([
      { transId: 2, status: 200 },
      { transId: 3, status: 200 },
    ]);
    expect(await statusOf('n1')).toBe('online');
    expect(statusEvents()).toEqual(['sleep', 'online']);
  });

  test('repeating the current state answers 200 without another devStatus', async () => {
    await send('n1', { transId: 4, sleep: false });
    await send('n1', { transId: 5, sleep: true });
    await send('n1', { transId: 6, sleep: true });
    expect(answersTo('n1').map((a) => a.status)).toEqual([200, 200, 200]);
    expect(statusEvents()).toEqual(['sleep']);
  });

  test('an offline device that wakes is online', async () => {
    await deps.devices.apply('n1', setStatus('offline', ['online'], deps.clock.now()));
    await send('n1', { transId: 7, sleep: false });
    expect(await statusOf('n1')).toBe('online');
    expect(statusEvents()).toEqual(['online']);
  });

  test('a notify from a sleeping device leaves it asleep', async () => {
    await send('n1', { transId: 8, sleep: true });
    await notify(message('notify/n1', { transId: 9, oid: 3303, iid: 0, rid: 5700, data: 1 }), deps);
    expect(await statusOf('n1')).toBe('sleep');
  });
});

describe('sleep with a duration and the reaper', () => {
  test('a sleeper that has not woken by the end of its duration is turned offline', async () => {
    await send('n1', { transId: 10, sleep: true, duration: 60 });
    deps.clock.advance(59_000);
    expect((await reaper(deps)).offline).toEqual([]);
    expect(await statusOf('n1')).toBe('sleep');

    deps.clock.advance(2_000);
    const report = await reaper(deps);
    expect(report.offline).toEqual(['n1']);
    expect(report.expired).toEqual([]);
    expect(await statusOf('n1')).toBe('offline');
    expect(statusEvents()).toEqual(['sleep', 'offline']);

    expect((await reaper(deps)).offline).toEqual([]);
    expect(statusEvents()).toEqual(['sleep', 'offline']);
  });

  test('waking before the deadline cancels it', async () => {
    await send('n1', { transId: 11, sleep: true, duration: 60 });
    deps.clock.advance(30_000);
    await send('n1', { transId: 12, sleep: false });
    deps.clock.advance(60_000);
    expect((await reaper(deps)).offline).toEqual([]);
    expect(await statusOf('n1')).toBe('online');
  });

  test('a new sleep replaces the deadline', async () => {
    await send('n1', { transId: 13, sleep: true, duration: 60 });
    deps.clock.advance(50_000);
    await send('n1', { transId: 14, sleep: true, duration: 60 });
    deps.clock.advance(20_000);
    expect((await reaper(deps)).offline).toEqual([]);
    deps.clock.advance(41_000);
    expect((await reaper(deps)).offline).toEqual(['n1']);
  });

  test('a sleep without a duration has no deadline', async () => {
    await send('n1', { transId: 15, sleep: true, duration: 60 });
    await send('n1', { transId: 16, sleep: true });
    deps.clock.advance(500_000);
    expect((await reaper(deps)).offline).toEqual([]);
    expect(await statusOf('n1')).toBe('sleep');
  });

  test('a duration of 0 goes offline at the next reaper run after this second', async () => {
    await send('n1', { transId: 17, sleep: true, duration: 0 });
    deps.clock.advance(1_001);
    expect((await reaper(deps)).offline).toEqual(['n1']);
  });
});

describe('400 and 404', () => {
  test.each([
    ['no sleep field', { transId: 20 }],
    ['sleep as a string', { transId: 20, sleep: 'true' }],
    ['sleep as a number', { transId: 20, sleep: 1 }],
    ['a negative duration', { transId: 20, sleep: true, duration: -5 }],
    ['a duration as a string', { transId: 20, sleep: true, duration: '60' }],
    ['a duration beyond ten years', { transId: 20, sleep: true, duration: 400_000_000 }],
  ])('%s is a 400 and changes nothing', async (_name, body) => {
    const before = await device('n1');
    deps.clock.advance(5_000);
    await send('n1', body);
    expect(answersTo('n1')).toEqual([{ transId: 20, status: 400 }]);
    expect(await device('n1')).toEqual(before);
    expect(deps.events.events).toEqual([]);
  });

  test('an unregistered client gets 404', async () => {
    await send('ghost', { transId: 21, sleep: true, duration: 10 });
    expect(answersTo('ghost')).toEqual([{ transId: 21, status: 404 }]);
    expect(await device('ghost')).toBeNull();
    expect(deps.events.events).toEqual([]);
  });

  test('an expired client gets 404', async () => {
    deps.clock.advance(601_000);
    await send('n1', { transId: 22, sleep: false });
    expect(answersTo('n1')).toEqual([{ transId: 22, status: 404 }]);
  });
});

describe('malformed input', () => {
  test.each(malformedPayloads({ transId: 67, sleep: true, duration: 30 }))(
    '%s: 400 and the record unchanged',
    async (_name, raw, echoed) => {
      const before = await device('n1');
      deps.clock.advance(5_000);
      await expect(send('n1', raw)).resolves.toBeUndefined();
      expect(deps.publisher.published.map((p) => [p.topic, p.json()])).toEqual([
        ['schedule/response/n1', { transId: echoed, status: 400 }],
      ]);
      expect(deps.events.events).toEqual([]);
      expect(await device('n1')).toEqual(before);
      expect(prototypeIsClean()).toBe(true);
    },
  );

  test('a spoofed publisher cannot put another device to sleep', async () => {
    const before = await device('n1');
    await send('n1', { transId: 68, sleep: true, duration: 1 }, 'intruder');
    expect(deps.publisher.published).toEqual([]);
    expect(await device('n1')).toEqual(before);
    deps.clock.advance(5_000);
    expect((await reaper(deps)).offline).toEqual([]);
  });

  test.each(foreignTopics('schedule', 'n1'))('foreign topic %j is dropped unanswered', async (topic) => {
    const before = await device('n1');
    await expect(schedule(message(topic, { transId: 69, sleep: true }), deps)).resolves.toBeUndefined();
    expect(deps.publisher.published).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });
});
