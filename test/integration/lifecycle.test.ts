import type { TestDevice } from '../helpers/device';
import { registerDevice, sampleObjects, startWorld, type IntegrationWorld } from '../helpers/integration';
import { eventually } from '../helpers/poll';

/**
 * A registered device's life through the real broker, bridge and store: update, ping, notify,
 * schedule (sleep/wake), lwt, deregister and lifetime expiry (docs/PROTOCOL.md, "Channels" and "Lifetime, sleep and offline").
 */
let world: IntegrationWorld;
let seq = 0;

beforeAll(async () => {
  world = await startWorld({ LWMQN_REAPER_INTERVAL_MS: '200' });
});
afterAll(async () => world?.close());
afterEach(() => {
  // No handler failed (and so was retried by the bridge) during the test.
  expect(world.log.errors()).toEqual([]);
});

/** A fresh, registered device with the sample tree. */
async function registered(prefix: string, overrides: Record<string, unknown> = {}): Promise<TestDevice> {
  const dev = await world.device(`${prefix}-${++seq}`, { objects: sampleObjects() });
  expect((await registerDevice(dev, overrides)).status).toBe(201);
  return dev;
}

const record = async (id: string) => (await world.http(`/devices/${id}`)).body;
const objects = async (id: string) => (await world.http(`/devices/${id}/objects`)).body;

describe('update', () => {
  test('attributes change with 204 and show in the record', async () => {
    const dev = await registered('upd');
    const answer = await dev.call('update', { transId: 900, lifetime: 1200, ip: '10.0.0.9', version: '2.0' });
    expect(answer).toEqual({ transId: 900, status: 204 });
    expect(await record(dev.clientId)).toMatchObject({ lifetime: 1200, ip: '10.0.0.9', version: '2.0', mac: 'aa:bb:cc:00:00:01' });
    const r = await record(dev.clientId);
    expect(r.expiresAt).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 1199);
  });

  test('an update carrying the same mac is accepted, another mac is 409 and changes nothing', async () => {
    const dev = await registered('upd-mac');
    expect((await dev.call('update', { mac: 'AA:BB:CC:00:00:01', ip: '10.1.1.1' })).status).toBe(204);
    expect((await dev.call('update', { mac: 'de:ad:be:ef:00:00', ip: '10.2.2.2' })).status).toBe(409);
    expect(await record(dev.clientId)).toMatchObject({ mac: 'aa:bb:cc:00:00:01', ip: '10.1.1.1' });
  });

  test.each([
    ['an unknown field', { ip: '10.0.0.1', colour: 'blue' }],
    ['no attribute at all', {}],
    ['a lifetime of the wrong type', { lifetime: 'long' }],
    ['an ip of the wrong type', { ip: 42 }],
  ])('an update with %s is 400 and changes nothing', async (_what, body) => {
    const dev = await registered('upd-bad');
    const answer = await dev.call('update', { transId: 62, ...body });
    expect(answer).toEqual({ transId: 62, status: 400 });
    expect(await record(dev.clientId)).toMatchObject({ ip: '127.0.0.1', lifetime: 600 });
  });

  test('an update of an unregistered client is 404', async () => {
    const dev = await world.device(`upd-ghost-${++seq}`);
    expect(await dev.call('update', { transId: 5, lifetime: 100 })).toEqual({ transId: 5, status: 404 });
    expect((await world.http(`/devices/${dev.clientId}`)).status).toBe(404);
  });

  test('an update with objList reads every object again and replaces the stored tree', async () => {
    const dev = await registered('upd-objs');
    dev.requests.length = 0;
    dev.objects = {
      '3303': { '0': { sensorValue: 40, units: 'F' } },
      '3311': { '0': { onOff: true } },
    };
    const answer = await dev.call('update', {
      transId: 77,
      objList: [
        { oid: 3303, iid: 0 },
        { oid: 3311, iid: 0 },
      ],
    });
    expect(answer).toEqual({ transId: 77, status: 204 });
    expect(dev.requests.map((r) => [r.cmdId, r.oid]).sort()).toEqual([
      [0, 3303],
      [0, 3311],
    ]);
    expect(await objects(dev.clientId)).toEqual({ '3303': { '0': { '5700': 40, '5701': 'F' } }, '3311': { '0': { '5850': true } } });
    expect((await record(dev.clientId)).objList).toEqual({ '3303': [0], '3311': [0] });
  });

  test('an objList update whose reads fail is 500 and keeps the old tree', async () => {
    const dev = await registered('upd-objs-fail');
    const before = await objects(dev.clientId);
    dev.onRequest = () => ({ status: 500 });
    expect((await dev.call('update', { objList: { '3303': [0] } })).status).toBe(500);
    expect(await objects(dev.clientId)).toEqual(before);
    expect((await record(dev.clientId)).objList).toEqual({ '1': [0], '3': [0], '3303': [0, 1] });
  });
});

describe('ping', () => {
  test('a registered device gets 200 and a renewed lifetime; an unknown one gets 404', async () => {
    const dev = await registered('ping');
    expect(await dev.call('ping', { transId: 3 })).toEqual({ transId: 3, status: 200 });
    expect(await dev.call('ping', { transId: 3, extra: 'refused' })).toEqual({ transId: 3, status: 400 });
    expect((await record(dev.clientId)).status).toBe('online');

    const ghost = await world.device(`ping-ghost-${++seq}`);
    expect(await ghost.call('ping', { transId: 4 })).toEqual({ transId: 4, status: 404 });
  });
});

describe('notify', () => {
  test('a resource notify is 204 and the value is stored, by number or by name', async () => {
    const dev = await registered('ntf');
    expect(await dev.call('notify', { transId: 11, oid: 3303, iid: 0, rid: 5700, data: 30.5 })).toEqual({
      transId: 11,
      status: 204,
    });
    expect((await objects(dev.clientId))['3303']['0']['5700']).toBe(30.5);

    expect((await dev.call('notify', { oid: 'temperature', iid: '1', rid: 'sensorValue', data: -4 })).status).toBe(204);
    const tree = await objects(dev.clientId);
    expect(tree['3303']['1']).toEqual({ '5700': -4, '5701': 'C' });
    expect(tree['3303']['0']['5700']).toBe(30.5);
  });

  test('an instance notify is 204 and stores every resource it carries', async () => {
    const dev = await registered('ntf-inst');
    expect((await dev.call('notify', { oid: 3303, iid: 0, data: { sensorValue: 12, units: 'K' } })).status).toBe(204);
    expect((await objects(dev.clientId))['3303']['0']).toEqual({ '5700': 12, '5701': 'K' });
  });

  test.each([
    ['an unknown object', { oid: 3304, iid: 0, rid: 5700, data: 1 }],
    ['an unknown instance', { oid: 3303, iid: 9, rid: 5700, data: 1 }],
    ['an unknown resource', { oid: 3303, iid: 0, rid: 5601, data: 1 }],
    ['an instance notify with an unknown resource', { oid: 3303, iid: 0, data: { sensorValue: 1, minMeaValue: 0 } }],
  ])('a notify of %s is 404 and changes nothing', async (_what, body) => {
    const dev = await registered('ntf-404');
    const before = await objects(dev.clientId);
    expect((await dev.call('notify', { transId: 21, ...body })).status).toBe(404);
    expect(await objects(dev.clientId)).toEqual(before);
  });

  test('a notify of a number the store cannot hold is 400, and the device is still served', async () => {
    const dev = await registered('ntf-range');
    for (const data of [1e200, -1e200, 1e-200]) {
      expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data })).status).toBe(400);
    }
    expect((await dev.call('notify', { oid: 3303, iid: 0, data: { sensorValue: 1e130 } })).status).toBe(400);
    expect((await objects(dev.clientId))['3303']['0']['5700']).toBe(21.5);
    expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 1e120 })).status).toBe(204);
    expect((await objects(dev.clientId))['3303']['0']['5700']).toBe(1e120);
  });

  test('a notify from an unregistered client is 404', async () => {
    const ghost = await world.device(`ntf-ghost-${++seq}`);
    expect(await ghost.call('notify', { transId: 22, oid: 3303, iid: 0, rid: 5700, data: 1 })).toEqual({ transId: 22, status: 404 });
  });

  test.each([
    ['no data', { oid: 3303, iid: 0, rid: 5700 }],
    ['no oid', { iid: 0, rid: 5700, data: 1 }],
    ['an oid of the wrong type', { oid: { x: 1 }, iid: 0, rid: 5700, data: 1 }],
    ['an instance notify whose data is not an object', { oid: 3303, iid: 0, data: 5 }],
    ['an instance notify with empty data', { oid: 3303, iid: 0, data: {} }],
  ])('a notify with %s is 400 and changes nothing', async (_what, body) => {
    const dev = await registered('ntf-400');
    const before = await objects(dev.clientId);
    expect(await dev.call('notify', { transId: 23, ...body })).toEqual({ transId: 23, status: 400 });
    expect(await objects(dev.clientId)).toEqual(before);
  });
});

describe('schedule and status', () => {
  test('sleep and wake show in GET /devices/:id status', async () => {
    const dev = await registered('sched');
    expect((await record(dev.clientId)).status).toBe('online');
    expect(await dev.call('schedule', { transId: 41, sleep: true })).toEqual({ transId: 41, status: 200 });
    expect((await record(dev.clientId)).status).toBe('sleep');
    // A ping is activity but does not wake a sleeping device.
    expect((await dev.call('ping', {})).status).toBe(200);
    expect((await record(dev.clientId)).status).toBe('sleep');
    expect(await dev.call('schedule', { transId: 42, sleep: false })).toEqual({ transId: 42, status: 200 });
    expect((await record(dev.clientId)).status).toBe('online');
  });

  test('a sleep with a duration turns offline when the device does not check in, and a message brings it back', async () => {
    const dev = await registered('sched-dur');
    expect((await dev.call('schedule', { sleep: true, duration: 1 })).status).toBe(200);
    await eventually(async () => expect((await record(dev.clientId)).status).toBe('offline'), { timeoutMs: 8_000 });
    await world.events.waitFor(dev.clientId, 'devStatus', (p) => p.data === 'offline');
    expect((await dev.call('ping', {})).status).toBe(200);
    await eventually(async () => expect((await record(dev.clientId)).status).toBe('online'));
    await world.events.waitFor(dev.clientId, 'devStatus', (p) => p.data === 'online');
  });

  test('a schedule from an unregistered client is 404; a bad schedule is 400', async () => {
    const ghost = await world.device(`sched-ghost-${++seq}`);
    expect((await ghost.call('schedule', { sleep: true })).status).toBe(404);
    const dev = await registered('sched-bad');
    expect((await dev.call('schedule', { transId: 43, sleep: 'yes' })).status).toBe(400);
    expect((await dev.call('schedule', { transId: 44 })).status).toBe(400);
    expect((await dev.call('schedule', { transId: 45, sleep: true, duration: -1 })).status).toBe(400);
    expect((await record(dev.clientId)).status).toBe('online');
  });

  test('a message on lwt/<id> sets the device offline; a notify brings it online again', async () => {
    const dev = await registered('lwt');
    await dev.publish('lwt', 'gone');
    await eventually(async () => expect((await record(dev.clientId)).status).toBe('offline'));
    expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 1 })).status).toBe(204);
    await eventually(async () => expect((await record(dev.clientId)).status).toBe('online'));
  });
});

describe('deregister and expiry', () => {
  test('deregister is 202 and removes the device; again it is 404', async () => {
    const dev = await registered('dereg');
    expect(await dev.call('deregister', { transId: 51 })).toEqual({ transId: 51, status: 202 });
    expect((await world.http(`/devices/${dev.clientId}`)).status).toBe(404);
    expect((await world.http(`/devices/${dev.clientId}/objects`)).status).toBe(404);
    expect((await world.http('/devices')).body.map((d: { clientId: string }) => d.clientId)).not.toContain(dev.clientId);
    expect(await dev.call('deregister', { transId: 52 })).toEqual({ transId: 52, status: 404 });
    // Gone means gone: its channels answer 404 until it registers again.
    expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 1 })).status).toBe(404);
    expect((await registerDevice(dev)).status).toBe(201);
  });

  test('a device silent for its lifetime is removed by the reaper, which emits devLeaving', async () => {
    const dev = await registered('expire', { lifetime: 1, mac: 'AA:BB:CC:00:00:EE' });
    const leaving = await world.events.waitFor(dev.clientId, 'devLeaving', () => true, 10_000);
    expect(leaving.payload).toEqual({
      type: 'devLeaving',
      clientId: dev.clientId,
      data: 'aa:bb:cc:00:00:ee',
      timestamp: expect.any(Number),
    });
    expect((await world.http(`/devices/${dev.clientId}`)).status).toBe(404);
    expect((await dev.call('ping', {})).status).toBe(404);
  });

  test('a device that stays active outlives its lifetime while an idle one registered after it is reaped', async () => {
    const active = await registered('keepalive', { lifetime: 2 });
    // Registered after the active one, so it expires no earlier than the active one would have.
    const idle = await registered('idle', { lifetime: 2 });
    let leftAt: number | undefined;
    const idleLeft = world.events.waitFor(idle.clientId, 'devLeaving', () => true, 15_000).then(() => (leftAt = Date.now()));
    // Keep the active device busy until the reaper has removed the idle one.
    while (leftAt === undefined) {
      expect((await active.call('ping', {})).status).toBe(200);
      await Promise.race([idleLeft, new Promise((r) => setTimeout(r, 200))]);
    }
    expect((await world.http(`/devices/${idle.clientId}`)).status).toBe(404);
    expect((await world.http(`/devices/${active.clientId}`)).status).toBe(200);
    expect(world.events.of(active.clientId, 'devLeaving')).toEqual([]);
  });
});
