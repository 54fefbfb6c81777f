import { startCeiling } from '../../bench/ceiling-server';
import type { ServerUnderTest } from '../../bench/servers';
import { TestDevice, type TestDeviceOptions } from '../helpers/device';

/**
 * The benchmark's ceiling responder stands for "the fastest server possible", so it must still
 * do what docs/PROTOCOL.md, "Registration", asks of every server: read each object before answering.
 */
let ceiling: ServerUnderTest;
const devices: TestDevice[] = [];

beforeAll(async () => {
  ceiling = await startCeiling();
});

afterAll(async () => {
  for (const d of devices) await d.close();
  await ceiling.stop();
});

const objects = {
  1: { 0: { lifetime: 3600 } },
  3: { 0: { manuf: 'lwmqn' } },
  3303: { 0: { 5700: 21.5 }, 1: { 5700: 19 } },
};
const objList = { 1: [0], 3: [0], 3303: [0, 1] };

async function device(id: string, options: TestDeviceOptions = {}): Promise<TestDevice> {
  const d = await TestDevice.connect(ceiling.mqttUrl, id, { objects, ...options });
  devices.push(d);
  return d;
}

const registration = (d: TestDevice) =>
  d.call('register', { lifetime: 3600, ip: '127.0.0.1', mac: '02:00:00:00:00:01', version: '1', objList });

test('reads every object in objList, then answers 201', async () => {
  const d = await device('ceiling-ok');
  const answer = await registration(d);
  expect(answer.status).toBe(201);
  expect(d.requests.map((r) => [r.cmdId, Number(r.oid)]).sort((a, b) => a[1] - b[1])).toEqual([
    [0, 1],
    [0, 3],
    [0, 3303],
  ]);
});

test('a failed read fails the registration (500)', async () => {
  const d = await device('ceiling-fail', { onRequest: (r) => (Number(r.oid) === 3 ? { status: 404 } : undefined) });
  const answer = await registration(d);
  expect(answer.status).toBe(500);
});

test('answers deregister 202', async () => {
  const d = await device('ceiling-leave');
  expect((await d.call('deregister', {})).status).toBe(202);
});
