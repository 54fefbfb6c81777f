import { registerDevice, sampleObjects, startWorld, type IntegrationWorld, type ObservedEvent } from '../helpers/integration';

/**
 * Every event type of docs/PROTOCOL.md, "Events", observed the way an application sees it: on the
 * MQTT topic `lwmqn/events/<clientId>/<type>` with payload `{type, clientId, data, timestamp}`.
 */
let world: IntegrationWorld;

beforeAll(async () => {
  world = await startWorld({ LWMQN_REAPER_INTERVAL_MS: '200' });
});
afterAll(async () => world?.close());
afterEach(() => expect(world.log.errors()).toEqual([]));

/** The envelope every event carries, with the data checked by the caller. */
function expectEnvelope(e: ObservedEvent, type: string, clientId: string, data: unknown, since: number): void {
  expect(e.topic).toBe(`lwmqn/events/${clientId}/${type}`);
  expect(e.payload).toEqual({ type, clientId, data, timestamp: expect.any(Number) });
  expect(e.payload.timestamp).toBeGreaterThanOrEqual(since);
  expect(e.payload.timestamp).toBeLessThanOrEqual(Date.now());
}

test('a device life emits devIncoming, devStatus, devUpdate, devNotify, devChange and devLeaving on their topics', async () => {
  const id = 'ev-life';
  const since = Date.now();
  const dev = await world.device(id, { objects: sampleObjects() });

  // devIncoming (data: the record) and devStatus online
  expect((await registerDevice(dev)).status).toBe(201);
  const incoming = await world.events.waitFor(id, 'devIncoming');
  expectEnvelope(
    incoming,
    'devIncoming',
    id,
    {
      clientId: id,
      joinTime: expect.any(Number),
      lifetime: 600,
      ip: '127.0.0.1',
      mac: 'aa:bb:cc:00:00:01',
      version: '0.0.1',
      objList: { '1': [0], '3': [0], '3303': [0, 1] },
      status: 'online',
      expiresAt: expect.any(Number),
    },
    since,
  );
  expectEnvelope(await world.events.waitFor(id, 'devStatus'), 'devStatus', id, 'online', since);

  // devUpdate: only the attributes that changed
  expect((await dev.call('update', { lifetime: 1200, ip: '127.0.0.1' })).status).toBe(204);
  expectEnvelope(await world.events.waitFor(id, 'devUpdate'), 'devUpdate', id, { lifetime: 1200 }, since);

  // devNotify (as notified) and devChange (what really changed)
  expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 30 })).status).toBe(204);
  expectEnvelope(await world.events.waitFor(id, 'devNotify'), 'devNotify', id, { oid: 3303, iid: 0, rid: 5700, data: 30 }, since);
  expectEnvelope(await world.events.waitFor(id, 'devChange'), 'devChange', id, { oid: 3303, iid: 0, rid: 5700, data: 30 }, since);

  // devLeaving (data: the mac)
  expect((await dev.call('deregister', {})).status).toBe(202);
  expectEnvelope(await world.events.waitFor(id, 'devLeaving'), 'devLeaving', id, 'aa:bb:cc:00:00:01', since);

  // Exactly one of each so far (one devStatus: the device never changed status after joining).
  const counts = Object.fromEntries(
    ['devIncoming', 'devStatus', 'devUpdate', 'devNotify', 'devChange', 'devLeaving'].map((t) => [t, world.events.of(id, t).length]),
  );
  expect(counts).toEqual({ devIncoming: 1, devStatus: 1, devUpdate: 1, devNotify: 1, devChange: 1, devLeaving: 1 });
});

test('devChange carries only what really changed; a notify of the same value emits devNotify alone', async () => {
  const id = 'ev-change';
  const dev = await world.device(id, { objects: sampleObjects() });
  expect((await registerDevice(dev)).status).toBe(201);

  // Same value as stored: a devNotify but no devChange.
  expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 21.5 })).status).toBe(204);
  await world.events.waitFor(id, 'devNotify', (p) => p.data.data === 21.5);
  // Instance notify with one resource changed: devChange names only that one.
  expect((await dev.call('notify', { oid: 3303, iid: 1, data: { sensorValue: 19, units: 'F' } })).status).toBe(204);
  const change = await world.events.waitFor(id, 'devChange');
  expect(change.payload.data).toEqual({ oid: 3303, iid: 1, data: { '5701': 'F' } });
  const notify = await world.events.waitFor(id, 'devNotify', (p) => p.data.iid === 1);
  expect(notify.payload.data).toEqual({ oid: 3303, iid: 1, data: { sensorValue: 19, units: 'F' } });
  // The device's events are emitted in order, so the same-value notify's devChange would be here by now.
  expect(world.events.of(id, 'devChange')).toHaveLength(1);
  expect(world.events.of(id, 'devNotify')).toHaveLength(2);
});

test('devStatus follows sleep, wake, lwt and coming back', async () => {
  const id = 'ev-status';
  const dev = await world.device(id, { objects: sampleObjects() });
  expect((await registerDevice(dev)).status).toBe(201);
  await world.events.waitFor(id, 'devStatus', (p) => p.data === 'online');

  expect((await dev.call('schedule', { sleep: true })).status).toBe(200);
  await world.events.waitFor(id, 'devStatus', (p) => p.data === 'sleep');
  expect((await dev.call('schedule', { sleep: false })).status).toBe(200);
  await world.events.waitFor(id, 'devStatus', (p) => world.events.of(id, 'devStatus').length === 3 && p.data === 'online');

  await dev.publish('lwt', '');
  await world.events.waitFor(id, 'devStatus', (p) => p.data === 'offline');
  expect((await dev.call('ping', {})).status).toBe(200);
  await world.events.waitFor(id, 'devStatus', () => world.events.of(id, 'devStatus').length === 5);
  expect(world.events.of(id, 'devStatus').map((e) => e.payload.data)).toEqual(['online', 'sleep', 'online', 'offline', 'online']);
});

test('devUpdate of an objList update names the new objList; a re-register with changes reports them', async () => {
  const id = 'ev-update';
  const dev = await world.device(id, { objects: sampleObjects() });
  expect((await registerDevice(dev)).status).toBe(201);
  expect((await dev.call('update', { objList: { '3303': [0] } })).status).toBe(204);
  const first = await world.events.waitFor(id, 'devUpdate');
  expect(first.payload.data).toEqual({ objList: { '3303': [0] } });

  expect((await registerDevice(dev, { objList: { '3303': [0] }, version: '0.0.2' })).status).toBe(200);
  const second = await world.events.waitFor(id, 'devUpdate', (p) => p.data.version !== undefined);
  expect(second.payload.data).toEqual({ version: '0.0.2' });
});

test('an expired lifetime emits devLeaving with the mac', async () => {
  const id = 'ev-expire';
  const dev = await world.device(id, { objects: sampleObjects() });
  expect((await registerDevice(dev, { lifetime: 1, mac: '02:00:00:00:00:09' })).status).toBe(201);
  const leaving = await world.events.waitFor(id, 'devLeaving', () => true, 10_000);
  expect(leaving.payload).toMatchObject({ type: 'devLeaving', clientId: id, data: '02:00:00:00:00:09' });
});

test('events of one device are published only under its own clientId', async () => {
  const a = await world.device('ev-a', { objects: sampleObjects() });
  const b = await world.device('ev-b', { objects: sampleObjects() });
  await Promise.all([registerDevice(a), registerDevice(b, { mac: '02:00:00:00:00:0b' })]);
  expect((await a.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 1 })).status).toBe(204);
  await world.events.waitFor('ev-a', 'devChange');
  await world.events.waitFor('ev-b', 'devIncoming');
  for (const e of world.events.of('ev-b')) expect(e.payload.clientId).toBe('ev-b');
  expect(world.events.of('ev-b', 'devChange')).toEqual([]);
  expect(world.events.of('ev-b', 'devIncoming')[0].payload.data.mac).toBe('02:00:00:00:00:0b');
});
