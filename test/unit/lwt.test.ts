import { lwt } from '../../functions/lwt';
import { ping } from '../../functions/ping';
import { schedule } from '../../functions/schedule';
import { registerDevice } from '../helpers/devices';
import { foreignTopics } from '../helpers/malformed';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

const device = (id: string) => deps.devices.get(id, deps.clock.now());
const send = (id: string, payload: unknown, mqttClientId?: string) => lwt(message(`lwt/${id}`, payload, mqttClientId), deps);

test('sets an online device offline and emits devStatus offline, answering nothing', async () => {
  const before = await registerDevice(deps, 'n1');
  await send('n1', 'bye');
  const after = await device('n1');
  expect(after?.status).toBe('offline');
  expect({ ...after, status: 'online' }).toEqual(before);
  expect(deps.events.events.map((e) => [e.type, e.clientId, e.data])).toEqual([['devStatus', 'n1', 'offline']]);
  expect(deps.publisher.published).toEqual([]);
});

test.each([
  ['a JSON object', { transId: 1 }],
  ['an empty payload', ''],
  ['not JSON', '{oops'],
  ['a huge payload', 'x'.repeat(100_000)],
  ['a __proto__ key', '{"__proto__":{"polluted":true}}'],
])('any payload works: %s', async (_name, payload) => {
  await registerDevice(deps, 'n1');
  await expect(send('n1', payload)).resolves.toBeUndefined();
  expect((await device('n1'))?.status).toBe('offline');
  expect(deps.publisher.published).toEqual([]);
});

test('a sleeping device goes offline too', async () => {
  await registerDevice(deps, 'n1');
  await schedule(message('schedule/n1', { transId: 2, sleep: true }), deps);
  deps.events.clear();
  await send('n1', '');
  expect((await device('n1'))?.status).toBe('offline');
  expect(deps.events.of('devStatus').map((e) => e.data)).toEqual(['offline']);
});

test('a second will emits no second devStatus', async () => {
  await registerDevice(deps, 'n1');
  await send('n1', '');
  await send('n1', '');
  expect(deps.events.of('devStatus')).toHaveLength(1);
});

test('the will does not renew the lifetime', async () => {
  const before = await registerDevice(deps, 'n1');
  deps.clock.advance(100_000);
  await send('n1', '');
  expect((await device('n1'))?.expiresAt).toBe(before.expiresAt);
});

test('the device is online again with its next message', async () => {
  await registerDevice(deps, 'n1');
  await send('n1', '');
  await ping(message('ping/n1', { transId: 3 }), deps);
  expect((await device('n1'))?.status).toBe('online');
  expect(deps.events.of('devStatus').map((e) => e.data)).toEqual(['offline', 'online']);
});

test('an unregistered client: nothing happens, nothing is created', async () => {
  await expect(send('ghost', '')).resolves.toBeUndefined();
  expect(await device('ghost')).toBeNull();
  expect(deps.events.events).toEqual([]);
  expect(deps.publisher.published).toEqual([]);
});

test('an expired client is not revived', async () => {
  await registerDevice(deps, 'n1');
  deps.clock.advance(601_000);
  await send('n1', '');
  expect(deps.events.events).toEqual([]);
  expect(await deps.devices.get('n1', deps.clock.now() - 601_000)).toMatchObject({ status: 'online' });
});

test('a spoofed will cannot take another device offline', async () => {
  const before = await registerDevice(deps, 'n1');
  await send('n1', '', 'intruder');
  expect(await device('n1')).toEqual(before);
  expect(deps.events.events).toEqual([]);
});

test.each(['', 'n/a'])('a will the rule gives no client id (%j) for still marks the device offline', async (noClient) => {
  await registerDevice(deps, 'n1');
  await send('n1', '', noClient);
  expect((await device('n1'))?.status).toBe('offline');
  expect(deps.events.of('devStatus').map((e) => e.data)).toEqual(['offline']);
});

test.each(['', 'n/a'])('on another channel, no client id (%j) is still not the device', async (noClient) => {
  await registerDevice(deps, 'n1');
  deps.events.clear();
  await ping(message('ping/n1', { transId: 4 }, noClient), deps);
  expect(deps.publisher.published).toEqual([]);
});

test.each(foreignTopics('lwt', 'n1'))('foreign topic %j is ignored', async (topic) => {
  const before = await registerDevice(deps, 'n1');
  await expect(lwt(message(topic, ''), deps)).resolves.toBeUndefined();
  expect(await device('n1')).toEqual(before);
  expect(deps.events.events).toEqual([]);
});
