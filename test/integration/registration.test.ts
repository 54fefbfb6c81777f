import { registerDevice, sampleObjects, sampleObjectsStored, startWorld, type IntegrationWorld } from '../helpers/integration';
import { eventually } from '../helpers/poll';

/**
 * Registration through a real Mosquitto, the real bridge and dynalite (docs/PROTOCOL.md,
 * "Channels" and "Registration"): answers, the object reads the server makes before it answers, what the HTTP API shows.
 */
let world: IntegrationWorld;

beforeAll(async () => {
  // Short request timeout and reaper period: the silent-device tests wait for them.
  world = await startWorld({ LWMQN_REQUEST_TIMEOUT_MS: '1000', LWMQN_REAPER_INTERVAL_MS: '200' });
});
afterAll(async () => world?.close());
afterEach(() => {
  // A handler that throws is retried by the bridge and logged as an error: none may.
  expect(world.log.errors()).toEqual([]);
});

test('a new device is read object by object, answered 201, and its tree is visible keyed by numeric ids', async () => {
  const dev = await world.device('reg-new', { objects: sampleObjects() });
  const answer = await registerDevice(dev, { transId: 4242 });
  expect(answer).toEqual({ transId: 4242, status: 201 });

  // One read (cmdId 0, whole object) per oid of objList, each with its own transId.
  const reads = dev.requests.filter((r) => r.cmdId === 0);
  expect(reads.map((r) => r.oid).sort((a, b) => Number(a) - Number(b))).toEqual([1, 3, 3303]);
  expect(reads.every((r) => r.iid === undefined && r.rid === undefined)).toBe(true);
  expect(new Set(reads.map((r) => r.transId)).size).toBe(3);

  const objects = await world.http('/devices/reg-new/objects');
  expect(objects.status).toBe(200);
  expect(objects.body).toEqual(sampleObjectsStored());
  expect(objects.body['3303']['0']['5700']).toBe(21.5);
  expect(objects.body['3303']['0']).not.toHaveProperty('sensorValue');

  const record = await world.http('/devices/reg-new');
  expect(record.status).toBe(200);
  expect(record.body).toEqual({
    clientId: 'reg-new',
    joinTime: expect.any(Number),
    lifetime: 600,
    ip: '127.0.0.1',
    mac: 'aa:bb:cc:00:00:01',
    version: '0.0.1',
    objList: { '1': [0], '3': [0], '3303': [0, 1] },
    status: 'online',
    expiresAt: expect.any(Number),
  });
  expect(record.body.expiresAt - record.body.joinTime).toBeGreaterThanOrEqual(599);
  expect(record.body.expiresAt - record.body.joinTime).toBeLessThanOrEqual(601);

  const list = await world.http('/devices');
  expect(list.status).toBe(200);
  expect(list.body.find((d: { clientId: string }) => d.clientId === 'reg-new')).toEqual(record.body);
});

test('the seed objList form with IPSO names is read by number and stored canonically', async () => {
  const dev = await world.device('reg-seed', { objects: { '3303': { '0': { sensorValue: 7, units: 'C' } } } });
  const answer = await registerDevice(dev, { objList: [{ oid: 'temperature', iid: 0 }], lifetime: undefined, version: undefined });
  expect(answer.status).toBe(201);
  expect(dev.requests.map((r) => [r.cmdId, r.oid])).toEqual([[0, 3303]]);
  const record = await world.http('/devices/reg-seed');
  expect(record.body.objList).toEqual({ '3303': [0] });
  expect(record.body.lifetime).toBe(86400);
  expect(record.body.version).toBe('');
  expect((await world.http('/devices/reg-seed/objects')).body).toEqual({ '3303': { '0': { '5700': 7, '5701': 'C' } } });
});

test('re-registering with the same mac is 200 (mac compared case-insensitively), another mac is 409', async () => {
  const dev = await world.device('reg-again', { objects: sampleObjects() });
  expect((await registerDevice(dev)).status).toBe(201);
  const readsAfterFirst = dev.requests.length;

  expect(await registerDevice(dev, { transId: 7, mac: 'aa:bb:cc:00:00:01' })).toEqual({ transId: 7, status: 200 });
  // Same objList: nothing to read again.
  expect(dev.requests.length).toBe(readsAfterFirst);

  expect(await registerDevice(dev, { transId: 8, mac: '11:22:33:44:55:66' })).toEqual({ transId: 8, status: 409 });
  const record = await world.http('/devices/reg-again');
  expect(record.body.mac).toBe('aa:bb:cc:00:00:01');

  // A second connection claiming the clientId with another mac is refused as well.
  const intruder = await world.device('reg-again', { objects: sampleObjects() });
  expect((await registerDevice(intruder, { transId: 9, mac: '66:55:44:33:22:11' })).status).toBe(409);
  expect((await world.http('/devices/reg-again')).body.mac).toBe('aa:bb:cc:00:00:01');
});

test('re-registering with another objList reads the objects again and replaces the tree', async () => {
  const dev = await world.device('reg-newlist', { objects: sampleObjects() });
  expect((await registerDevice(dev)).status).toBe(201);
  dev.requests.length = 0;
  dev.objects = { '3303': { '0': { sensorValue: 99 } } };
  expect((await registerDevice(dev, { objList: { '3303': [0] } })).status).toBe(200);
  expect(dev.requests.map((r) => [r.cmdId, r.oid])).toEqual([[0, 3303]]);
  expect((await world.http('/devices/reg-newlist/objects')).body).toEqual({ '3303': { '0': { '5700': 99 } } });
  expect((await world.http('/devices/reg-newlist')).body.objList).toEqual({ '3303': [0] });
});

test.each([
  ['a missing mac', { mac: undefined }],
  ['a missing objList', { objList: undefined }],
  ['an unknown field', { color: 'red' }],
  ['a lifetime of the wrong type', { lifetime: '600' }],
  ['a negative lifetime', { lifetime: -5 }],
  ['an objList of the wrong type', { objList: 'all' }],
  ['an objList entry with a bad iid', { objList: [{ oid: 3303, iid: { x: 1 } }] }],
])('register with %s is answered 400 and registers nothing', async (_what, overrides) => {
  const id = `reg-bad-${Math.random().toString(36).slice(2, 8)}`;
  const dev = await world.device(id, { objects: sampleObjects() });
  const answer = await registerDevice(dev, { transId: 31, ...overrides });
  expect(answer).toEqual({ transId: 31, status: 400 });
  expect(dev.requests).toEqual([]);
  expect((await world.http(`/devices/${id}`)).status).toBe(404);
});

test('a device whose reads never come back gets 500, is not registered, and late answers change nothing', async () => {
  const dev = await world.device('reg-silent', { objects: sampleObjects(), autoAnswer: false });
  const answer = await registerDevice(dev, { transId: 55 });
  expect(answer).toEqual({ transId: 55, status: 500 });
  expect(dev.requests.filter((r) => r.cmdId === 0)).toHaveLength(3);
  expect((await world.http('/devices/reg-silent')).status).toBe(404);
  expect(world.events.of('reg-silent', 'devIncoming')).toEqual([]);

  // The answers arrive after the registration failed: dropped, still not registered.
  for (const req of dev.requests) await dev.answer(req, 205, dev.readFromTree(req).data);
  // The bridge handles one device's messages in order: once the ping is answered, so were the late reads.
  expect((await dev.call('ping', {})).status).toBe(404);
  expect((await world.http('/devices/reg-silent')).status).toBe(404);
  expect(dev.received.filter((m) => m.topic === 'register/response/reg-silent')).toHaveLength(1);
});

test('an objList update whose reads never come back gets 500 and keeps the old tree', async () => {
  const dev = await world.device('reg-upd-silent', { objects: sampleObjects() });
  expect((await registerDevice(dev)).status).toBe(201);
  dev.autoAnswer = false;
  expect(await dev.call('update', { transId: 81, objList: { '3303': [0] }, version: '9' })).toEqual({ transId: 81, status: 500 });
  expect((await world.http('/devices/reg-upd-silent/objects')).body).toEqual(sampleObjectsStored());
  expect((await world.http('/devices/reg-upd-silent')).body).toMatchObject({
    objList: { '1': [0], '3': [0], '3303': [0, 1] },
    version: '0.0.1',
  });
  expect(world.events.of('reg-upd-silent', 'devUpdate')).toEqual([]);
});

test('a device that answers only some reads gets 500 and is not registered', async () => {
  const dev = await world.device('reg-partial', {
    objects: sampleObjects(),
    onRequest: (req) => (String(req.oid) === '3303' ? 'ignore' : undefined),
  });
  expect((await registerDevice(dev)).status).toBe(500);
  expect((await world.http('/devices/reg-partial')).status).toBe(404);
  expect((await world.http('/devices/reg-partial/objects')).status).toBe(404);
});

test('a read answered with an error status fails the registration with 500', async () => {
  const dev = await world.device('reg-404', {
    objects: sampleObjects(),
    onRequest: (req) => (String(req.oid) === '3' ? { status: 404 } : undefined),
  });
  expect((await registerDevice(dev)).status).toBe(500);
  expect((await world.http('/devices/reg-404')).status).toBe(404);
  // The device can fix itself and register afterwards.
  dev.onRequest = undefined;
  expect((await registerDevice(dev)).status).toBe(201);
  expect((await world.http('/devices/reg-404')).status).toBe(200);
});

test('a read answered with a value the store cannot hold fails the registration, and the device is still served', async () => {
  // DynamoDB keeps numbers of magnitude 1e-130..1e126; a device may send anything.
  const dev = await world.device('reg-unstorable', { objects: { '3303': { '0': { sensorValue: 1e200 } } } });
  expect(await registerDevice(dev, { transId: 61, objList: { '3303': [0] } })).toEqual({ transId: 61, status: 500 });
  expect((await world.http('/devices/reg-unstorable')).status).toBe(404);
  // Its later messages are not stuck behind the failed answer: it registers once its value is sane.
  dev.objects = { '3303': { '0': { sensorValue: 20 } } };
  expect((await registerDevice(dev, { transId: 62, objList: { '3303': [0] } })).status).toBe(201);
  expect((await world.http('/devices/reg-unstorable/objects')).body).toEqual({ '3303': { '0': { '5700': 20 } } });
});

test('a register with an empty objList is answered without reads', async () => {
  const dev = await world.device('reg-empty', {});
  expect((await registerDevice(dev, { objList: {} })).status).toBe(201);
  expect(dev.requests).toEqual([]);
  expect((await world.http('/devices/reg-empty/objects')).body).toEqual({});
});

test('GET /devices/:id is 404 for an unknown device and 400 for an invalid id', async () => {
  const unknown = await world.http('/devices/nobody-here');
  expect(unknown.status).toBe(404);
  expect(unknown.body).toHaveProperty('error');
  expect((await world.http('/devices/nobody-here/objects')).status).toBe(404);

  for (const bad of ['x'.repeat(129), 'a%2Bb', 'a%23b', 'a%00b', 'a%2Fb']) {
    const res = await world.http(`/devices/${bad}`);
    expect([bad, res.status]).toEqual([bad, 400]);
    expect(res.body).toHaveProperty('error');
  }
  expect((await world.http(`/devices/${'x'.repeat(129)}/objects`)).status).toBe(400);
  expect((await world.http('/health')).body).toMatchObject({ ok: true });
});

test('the registry keeps many devices registering at once apart', async () => {
  const ids = Array.from({ length: 8 }, (_, i) => `reg-many-${i}`);
  const devices = await Promise.all(ids.map((id, i) => world.device(id, { objects: { '3303': { '0': { sensorValue: i } } } })));
  const answers = await Promise.all(devices.map((d) => registerDevice(d, { objList: { '3303': [0] } })));
  expect(answers.map((a) => a.status)).toEqual(ids.map(() => 201));
  await eventually(async () => {
    for (const [i, id] of ids.entries()) {
      expect((await world.http(`/devices/${id}/objects`)).body).toEqual({ '3303': { '0': { '5700': i } } });
    }
  });
  expect(world.log.errors()).toEqual([]);
});
