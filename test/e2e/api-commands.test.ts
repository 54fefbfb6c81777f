import mqtt, { type MqttClient } from 'mqtt';
import { eventually } from '../helpers/poll';
import { EventLog, http, makeNode, nodeCall, startWorld, type E2eNode, type E2eWorld } from '../helpers/mqtt-node';

/**
 * The HTTP management API (README.md, "Manage your fleet") end to end: real Mosquitto, dynalite, the local stack and
 * real `mqtt-node` devices answering the server's commands (docs/PROTOCOL.md, "Server requests").
 */

/** `{a: {a: ... 1}}` with `depth` levels of objects. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

describe('device commands through the HTTP API', () => {
  let world: E2eWorld;
  let events: EventLog;
  let dev: E2eNode;
  const ID = 'api-cmd-1';

  const post = (path: string, body?: unknown) => http(world.stack.apiUrl, 'POST', path, body);
  const get = (path: string) => http(world.stack.apiUrl, 'GET', path);
  const objects = async () => (await get(`/devices/${ID}/objects`)).body;

  beforeAll(async () => {
    // A short request timeout: the reboot resource never answers and must come back as 408.
    world = await startWorld({ LWMQN_REQUEST_TIMEOUT_MS: '1500' });
    events = new EventLog(world.stack);
    dev = await world.node(ID);
  });

  afterAll(async () => {
    events?.close();
    await world?.close();
  });

  test('read a resource, an instance and an object, by IPSO names and by numbers; the stored tree follows', async () => {
    expect((await objects())['3303']['0']['5700']).toBe(21.5);

    dev.so.set('temperature', 0, 'sensorValue', 22.75);
    const byName = await post(`/devices/${ID}/read`, { path: 'temperature/0/sensorValue' });
    expect(byName).toEqual({ status: 200, body: { status: 205, data: 22.75 } });
    expect((await objects())['3303']['0']['5700']).toBe(22.75);
    const change = await events.waitFor(ID, 'devChange', (e: any) => e.data?.data === 22.75);
    expect(change.data).toEqual({ oid: 3303, iid: 0, rid: 5700, data: 22.75 });

    const byNumber = await post(`/devices/${ID}/read`, { path: '3303/0/5700' });
    expect(byNumber).toEqual({ status: 200, body: { status: 205, data: 22.75 } });

    dev.so.set('temperature', 0, 'sensorValue', 23.5);
    const instance = await post(`/devices/${ID}/read`, { path: '3303/0' });
    expect(instance.status).toBe(200);
    expect(instance.body.status).toBe(205);
    // mqtt-node keys read results by resource name; the stored tree is keyed by numbers.
    expect(instance.body.data).toEqual({ sensorValue: 23.5, units: 'C' });
    expect((await objects())['3303']['0']).toEqual({ '5700': 23.5, '5701': 'C' });

    dev.so.set('temperature', 0, 'sensorValue', 24.25);
    const object = await post(`/devices/${ID}/read`, { path: 'temperature' });
    expect(object.status).toBe(200);
    expect(object.body).toEqual({ status: 205, data: { '0': { sensorValue: 24.25, units: 'C' } } });
    expect((await objects())['3303']).toEqual({ '0': { '5700': 24.25, '5701': 'C' } });

    // A resource the device does not have: its own 404, passed through in a 200.
    const missing = await post(`/devices/${ID}/read`, { path: 'temperature/7/sensorValue' });
    expect(missing.status).toBe(200);
    expect(missing.body.status).toBe(404);
  });

  test("write: 204 on a writable resource (device, stored tree and devChange follow); the device's 405 on a read-only one", async () => {
    expect(dev.so.get('lightCtrl', 0, 'onOff')).toBe(false);
    expect((await objects())['3311']['0']['5850']).toBe(false);

    const on = await post(`/devices/${ID}/write`, { path: 'lightCtrl/0/onOff', value: true });
    expect(on.status).toBe(200);
    expect(on.body.status).toBe(204);
    expect(dev.so.get('lightCtrl', 0, 'onOff')).toBe(true);
    expect((await objects())['3311']['0']['5850']).toBe(true);
    const change = await events.waitFor(ID, 'devChange', (e: any) => e.data?.oid === 3311 && e.data?.data === true);
    expect(change.data).toEqual({ oid: 3311, iid: 0, rid: 5850, data: true });

    const off = await post(`/devices/${ID}/write`, { path: '3311/0/5850', value: false });
    expect(off.body.status).toBe(204);
    expect(dev.so.get('lightCtrl', 0, 'onOff')).toBe(false);
    expect((await objects())['3311']['0']['5850']).toBe(false);

    const before = (await objects())['3303']['0']['5700'];
    const readOnly = await post(`/devices/${ID}/write`, { path: 'temperature/0/sensorValue', value: 99 });
    expect(readOnly.status).toBe(200);
    expect(readOnly.body.status).toBe(405);
    expect(dev.so.get('temperature', 0, 'sensorValue')).not.toBe(99);
    expect((await objects())['3303']['0']['5700']).toBe(before);
  });

  test('discover: attributes of a resource, and resrcList on an object', async () => {
    const object = await post(`/devices/${ID}/discover`, { path: 'temperature' });
    expect(object.status).toBe(200);
    expect(object.body.status).toBe(205);
    expect(object.body.data).toMatchObject({ pmin: 1, pmax: 60, resrcList: { '0': [5700, 5701] } });

    const resource = await post(`/devices/${ID}/discover`, { path: '3303/0/5700' });
    expect(resource.body.status).toBe(205);
    expect(resource.body.data).toMatchObject({ pmin: 1, pmax: 60 });
    expect(resource.body.data.resrcList).toBeUndefined();
  });

  test('write-attrs: 204 with the attributes now in force, and discover shows them', async () => {
    const set = await post(`/devices/${ID}/write-attrs`, { path: 'lightCtrl/0/onOff', attrs: { pmin: 2, pmax: 30, stp: 1 } });
    expect(set.status).toBe(200);
    expect(set.body.status).toBe(204);
    expect(set.body.data).toMatchObject({ pmin: 2, pmax: 30, stp: 1 });

    const discovered = await post(`/devices/${ID}/discover`, { path: '3311/0/5850' });
    expect(discovered.body.status).toBe(205);
    expect(discovered.body.data).toMatchObject({ pmin: 2, pmax: 30, stp: 1 });
  });

  test('execute: an executable that answers is 204 and gets the arguments; reboot never answers: 504 {status:408}', async () => {
    const withArgs = await post(`/devices/${ID}/execute`, { path: 'device/0/factoryReset', args: [1, 'x'] });
    expect(withArgs.status).toBe(200);
    expect(withArgs.body).toEqual({ status: 204, data: { reset: true, args: [1, 'x'] } });
    expect(dev.executed).toEqual([[1, 'x']]);

    const noArgs = await post(`/devices/${ID}/execute`, { path: '3/0/5' });
    expect(noArgs.body.status).toBe(204);
    expect(dev.executed).toEqual([[1, 'x'], []]);

    const reboot = await post(`/devices/${ID}/execute`, { path: 'device/0/reboot' });
    expect(reboot.status).toBe(504);
    expect(reboot.body.status).toBe(408);
    expect(typeof reboot.body.error).toBe('string');

    // A resource that is not executable: the device's 405.
    const notExec = await post(`/devices/${ID}/execute`, { path: 'temperature/0/sensorValue' });
    expect(notExec.status).toBe(200);
    expect(notExec.body.status).toBe(405);
  });

  test('observe: the device reports (devNotify, devChange, stored) until the observation is cancelled with {option:1}', async () => {
    const watcher: MqttClient = await mqtt.connectAsync(world.broker.url, { clientId: `watch-${process.pid}`, reconnectPeriod: 0 });
    const requests: any[] = [];
    watcher.on('message', (_topic, payload) => requests.push(JSON.parse(payload.toString('utf8'))));
    await watcher.subscribeAsync(`request/${ID}`, { qos: 1 });
    try {
      // Report at least every second, and on every change.
      const attrs = await post(`/devices/${ID}/write-attrs`, { path: 'temperature/0/sensorValue', attrs: { pmin: 0, pmax: 1 } });
      expect(attrs.body.status).toBe(204);

      const started = await post(`/devices/${ID}/observe`, { path: 'temperature/0/sensorValue' });
      expect(started).toEqual({ status: 200, body: { status: 205, data: null } });
      expect(Object.keys(dev.node._reporters)).toHaveLength(1);
      await eventually(() =>
        expect(requests).toContainEqual(expect.objectContaining({ cmdId: 5, oid: 3303, iid: 0, rid: 5700, data: { option: 0 } })),
      );

      dev.so.set('temperature', 0, 'sensorValue', 31.5);
      const notified = await events.waitFor(ID, 'devNotify', (e: any) => e.data?.data === 31.5);
      expect(notified.data).toEqual({ oid: 3303, iid: 0, rid: 5700, data: 31.5 });
      const changed = await events.waitFor(ID, 'devChange', (e: any) => e.data?.data === 31.5);
      expect(changed.data).toEqual({ oid: 3303, iid: 0, rid: 5700, data: 31.5 });
      await eventually(async () => expect((await objects())['3303']['0']['5700']).toBe(31.5));

      const cancelled = await post(`/devices/${ID}/observe`, { path: 'temperature/0/sensorValue', cancel: true });
      expect(cancelled.body.status).toBe(205);
      await eventually(() =>
        expect(requests).toContainEqual(expect.objectContaining({ cmdId: 5, oid: 3303, iid: 0, rid: 5700, data: { option: 1 } })),
      );
      expect(Object.keys(dev.node._reporters)).toHaveLength(0); // the device stopped its reporter

      // mqtt-node does not observe whole objects: its 405 comes through.
      const object = await post(`/devices/${ID}/observe`, { path: 'temperature' });
      expect(object.body.status).toBe(405);
    } finally {
      await watcher.endAsync();
    }
  });

  test("ping: 200 with the device's 200", async () => {
    const pong = await post(`/devices/${ID}/ping`);
    expect(pong).toEqual({ status: 200, body: { status: 200, data: null } });
  });

  test('concurrent commands to one device each get their own answer', async () => {
    dev.so.set('temperature', 0, 'sensorValue', 25.5);
    const asks: Array<[string, string, unknown]> = [
      ['read', 'temperature/0/sensorValue', 25.5],
      ['read', 'temperature/0/units', 'C'],
      ['read', 'lightCtrl/0/onOff', false],
      ['read', 'device/0/manuf', 'lwmqn'],
      ['read', '3/0/1', 'MQ1'],
      ['read', '3/0/devType', 'generic'],
      ['read', '3303/0/5700', 25.5],
      ['read', '3311/0/5850', false],
    ];
    const answers = await Promise.all([
      ...asks.map(([cmd, path]) => post(`/devices/${ID}/${cmd}`, { path })),
      post(`/devices/${ID}/ping`),
      post(`/devices/${ID}/discover`, { path: 'lightCtrl' }),
    ]);
    asks.forEach(([, path, value], i) => {
      expect({ path, answer: answers[i] }).toEqual({ path, answer: { status: 200, body: { status: 205, data: value } } });
    });
    expect(answers[asks.length].body).toEqual({ status: 200, data: null });
    expect(answers[asks.length + 1].body).toMatchObject({ status: 205, data: { resrcList: { '0': [5850] } } });
  });

  test('an answer the store cannot hold (1e200) still reaches the caller, and the device keeps working', async () => {
    const stored = (await objects())['3303']['0']['5700'];
    dev.so.set('temperature', 0, 'sensorValue', 1e200);
    try {
      const huge = await post(`/devices/${ID}/read`, { path: 'temperature/0/sensorValue' });
      expect(huge).toEqual({ status: 200, body: { status: 205, data: 1e200 } });
      expect((await objects())['3303']['0']['5700']).toBe(stored); // kept as it was
    } finally {
      dev.so.set('temperature', 0, 'sensorValue', 21.5);
    }
    // Its later messages are not stuck behind the unstorable one.
    expect((await post(`/devices/${ID}/ping`)).body.status).toBe(200);
    const notified = await nodeCall((cb) => dev.node.notify({ oid: 3303, iid: 0, rid: 5700, data: 21.5 }, cb));
    expect(notified.status).toBe(204);
    expect((await objects())['3303']['0']['5700']).toBe(21.5);
  });

  test('GET /devices and /devices/:id answer records of the documented shape (docs/PROTOCOL.md, "Device record")', async () => {
    const keys = ['clientId', 'expiresAt', 'ip', 'joinTime', 'lifetime', 'mac', 'objList', 'status', 'version'];
    const one = await get(`/devices/${ID}`);
    expect(one.status).toBe(200);
    expect(Object.keys(one.body).sort()).toEqual(keys);
    expect(one.body).toMatchObject({ clientId: ID, ip: '127.0.0.1', lifetime: 600, version: '0.0.1', status: 'online' });
    expect(one.body.mac).toBe(dev.node.mac);
    expect(one.body.objList).toEqual({ '1': [0], '3': [0], '4': [0], '3303': [0], '3311': [0] });
    const list = await get('/devices');
    expect(list.status).toBe(200);
    const mine = (list.body as Array<Record<string, unknown>>).find((d) => d.clientId === ID)!;
    expect(Object.keys(mine).sort()).toEqual(keys);
  });

  test('an unknown device is a 404 with {error} on every device route', async () => {
    const answers = [
      await get('/devices/nobody-here'),
      await get('/devices/nobody-here/objects'),
      await http(world.stack.apiUrl, 'DELETE', '/devices/nobody-here'),
      await post('/devices/nobody-here/read', { path: 'temperature/0/sensorValue' }),
      await post('/devices/nobody-here/write', { path: 'lightCtrl/0/onOff', value: true }),
      await post('/devices/nobody-here/ping'),
    ];
    for (const a of answers) {
      expect(a.status).toBe(404);
      expect(typeof a.body.error).toBe('string');
    }
  });

  test('malformed requests are 400 with {error}', async () => {
    const lightBefore = dev.so.get('lightCtrl', 0, 'onOff');
    const executedBefore = dev.executed.length;
    const bad: Array<[string, unknown]> = [
      [`/devices/${ID}/read`, { path: 'temperature/0/sensorValue/extra' }],
      [`/devices/${ID}/read`, { path: 'temp erature' }],
      [`/devices/${ID}/read`, { path: '' }],
      [`/devices/${ID}/read`, {}],
      [`/devices/${ID}/read`, { path: 3303 }],
      [`/devices/${ID}/write`, { path: 'lightCtrl/0/onOff' }],
      [`/devices/${ID}/write`, { path: 'lightCtrl', value: 1 }],
      [`/devices/${ID}/execute`, { path: 'device/0' }],
      [`/devices/${ID}/execute`, { path: 'device/0/factoryReset', args: 'not an array' }],
      [`/devices/${ID}/write-attrs`, { path: 'temperature/0/sensorValue', attrs: { pmin: 'soon' } }],
      [`/devices/${ID}/write-attrs`, { path: 'temperature/0/sensorValue', attrs: { bogus: 1 } }],
      [`/devices/${ID}/frobnicate`, { path: 'temperature' }],
      [`/devices/${ID}/read`, '{"path": "temperature"'],
      [`/devices/${ID}/read`, 'path=temperature'],
      [`/devices/${ID}/read`, ''],
      ['/announce', {}],
      ['/announce', { message: '' }],
      ['/announce', 'hello'],
      ['/permit-join', { seconds: -1 }],
      ['/permit-join', { seconds: 'ten' }],
      ['/devices/a%2Fb/read', { path: 'temperature' }],
      ['/devices/a%2Bb/ping', {}],
      // Values no store holds: JSON.parse makes 1e400 Infinity; DynamoDB keeps 1e-130..1e126.
      [`/devices/${ID}/write`, '{"path": "lightCtrl/0/onOff", "value": 1e400}'],
      [`/devices/${ID}/write`, { path: 'lightCtrl/0/onOff', value: 1e200 }],
      [`/devices/${ID}/write`, { path: 'lightCtrl/0/onOff', value: { level: -1e-200 } }],
      [`/devices/${ID}/execute`, '{"path": "device/0/factoryReset", "args": [-1e400]}'],
      // Nested deeper than a device's answer may be (the echo of the value would be refused).
      [`/devices/${ID}/write`, { path: 'lightCtrl/0/onOff', value: nested(20) }],
    ];
    for (const [path, body] of bad) {
      const a = await post(path, body);
      expect({ path, body, status: a.status }).toEqual({ path, body, status: 400 });
      expect(typeof a.body.error).toBe('string');
      expect(a.body.error.length).toBeGreaterThan(0);
    }
    // None of it reached the device as a request it acted on.
    expect(dev.so.get('lightCtrl', 0, 'onOff')).toBe(lightBefore);
    expect(dev.executed).toHaveLength(executedBefore);
    // Large and small numbers inside the range are fine, and so is moderate nesting.
    for (const value of [9.99e125, -1e-130, 0, nested(10)]) {
      const ok = await post(`/devices/${ID}/write`, { path: 'lightCtrl/0/onOff', value });
      expect({ value, answer: ok }).toEqual({ value, answer: { status: 200, body: { status: 204, data: value } } });
    }
    expect((await post(`/devices/${ID}/write`, { path: 'lightCtrl/0/onOff', value: false })).body.status).toBe(204);
  });

  test('announce reaches every device as the raw text', async () => {
    const other = await world.node('api-cmd-2');
    const text = 'maintenance at 02:00 {not json}';
    const answer = await post('/announce', { message: text });
    expect(answer).toEqual({ status: 200, body: { ok: true } });
    await eventually(() => {
      expect(dev.announcements).toContain(text);
      expect(other.announcements).toContain(text);
    });
    const unicode = 'héllo, wörld ✓';
    expect((await post('/announce', { message: unicode })).status).toBe(200);
    await eventually(() => {
      expect(dev.announcements).toContain(unicode);
      expect(other.announcements).toContain(unicode);
    });
  });

  test('DELETE /devices/:id: 200, the device hears deregister/response 202, devLeaving is emitted, then 404', async () => {
    const leaving = await world.node('api-cmd-del');
    expect((await get('/devices/api-cmd-del')).status).toBe(200);

    const removed = await http(world.stack.apiUrl, 'DELETE', '/devices/api-cmd-del');
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ clientId: 'api-cmd-del', removed: true });

    const told = await leaving.waitForMessage('deregister/response/api-cmd-del');
    expect(JSON.parse(told.payload)).toMatchObject({ status: 202 });
    const left = await events.waitFor('api-cmd-del', 'devLeaving');
    expect(typeof left.data).toBe('string'); // the device's mac
    expect(left.data).toBe(leaving.node.mac);

    expect((await get('/devices/api-cmd-del')).status).toBe(404);
    expect((await post('/devices/api-cmd-del/ping')).status).toBe(404);
    expect((await http(world.stack.apiUrl, 'DELETE', '/devices/api-cmd-del')).status).toBe(404);
    const list = (await get('/devices')).body as Array<{ clientId: string }>;
    expect(list.map((d) => d.clientId)).not.toContain('api-cmd-del');
    expect(list.map((d) => d.clientId)).toContain(ID);
  });
});

describe('permit-join (LWMQN_JOIN=permit)', () => {
  let world: E2eWorld;
  beforeAll(async () => {
    world = await startWorld({ LWMQN_JOIN: 'permit' });
  });
  afterAll(async () => {
    await world?.close();
  });

  /** Connects a fresh device and resolves with the status of its first register answer. */
  async function firstRegisterStatus(clientId: string): Promise<{ node: E2eNode; status: number }> {
    const n = makeNode(clientId);
    world.nodes.push(n);
    // mqtt-node never calls back on a 401, so listen to what it receives.
    n.connect(world.broker.url).catch(() => undefined);
    const answer = await n.waitForMessage(`register/response/${clientId}`);
    return { node: n, status: JSON.parse(answer.payload).status };
  }

  test('a new device is refused 401 before the window, registers 201 inside it; /health shows joinTimeLeft', async () => {
    const closed = await http(world.stack.apiUrl, 'GET', '/health');
    expect(closed.body).toMatchObject({ ok: true, join: 'permit', joinTimeLeft: 0 });

    const early = await firstRegisterStatus('join-1');
    expect(early.status).toBe(401);
    expect((await http(world.stack.apiUrl, 'GET', '/devices/join-1')).status).toBe(404);

    const opened = await http(world.stack.apiUrl, 'POST', '/permit-join', { seconds: 60 });
    expect(opened).toEqual({ status: 200, body: { joinTimeLeft: 60 } });
    const health = await http(world.stack.apiUrl, 'GET', '/health');
    expect(health.body.joinTimeLeft).toBeGreaterThan(0);
    expect(health.body.joinTimeLeft).toBeLessThanOrEqual(60);

    // The same device, still connected, tries again inside the window.
    const again = await nodeCall((cb) => early.node.node.register(cb));
    expect(again.status).toBe(201);
    const record = await http(world.stack.apiUrl, 'GET', '/devices/join-1');
    expect(record.status).toBe(200);
    expect(record.body.clientId).toBe('join-1');

    // Closing the window (0 seconds) refuses the next newcomer again.
    const shut = await http(world.stack.apiUrl, 'POST', '/permit-join', { seconds: 0 });
    expect(shut.body).toEqual({ joinTimeLeft: 0 });
    expect((await http(world.stack.apiUrl, 'GET', '/health')).body.joinTimeLeft).toBe(0);
    const late = await firstRegisterStatus('join-2');
    expect(late.status).toBe(401);
    expect((await http(world.stack.apiUrl, 'GET', '/devices/join-2')).status).toBe(404);
  });
});

describe('bearer token (LWMQN_API_TOKEN)', () => {
  const TOKEN = 'e2e-s3cret';
  let world: E2eWorld;
  beforeAll(async () => {
    world = await startWorld({ LWMQN_API_TOKEN: TOKEN });
    await world.node('tok-1');
  });
  afterAll(async () => {
    await world?.close();
  });

  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/devices'],
    ['GET', '/devices/tok-1'],
    ['GET', '/devices/tok-1/objects'],
    ['DELETE', '/devices/tok-1'],
    ['POST', '/devices/tok-1/read', { path: 'temperature/0/sensorValue' }],
    ['POST', '/devices/tok-1/write', { path: 'lightCtrl/0/onOff', value: true }],
    ['POST', '/devices/tok-1/discover', { path: 'temperature' }],
    ['POST', '/devices/tok-1/write-attrs', { path: 'temperature', attrs: { pmin: 1 } }],
    ['POST', '/devices/tok-1/execute', { path: 'device/0/factoryReset' }],
    ['POST', '/devices/tok-1/observe', { path: 'temperature/0/sensorValue' }],
    ['POST', '/devices/tok-1/ping'],
    ['POST', '/announce', { message: 'hi' }],
    ['POST', '/permit-join', { seconds: 10 }],
    ['GET', '/events'],
  ];

  test('every route but /health answers 401 {error} without the token or with a wrong one', async () => {
    expect((await http(world.stack.apiUrl, 'GET', '/health')).status).toBe(200);
    for (const [method, path, body] of routes) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }] as Array<Record<string, string>>) {
        const a = await http(world.stack.apiUrl, method, path, body, headers);
        expect({ method, path, headers, status: a.status }).toEqual({ method, path, headers, status: 401 });
        expect(typeof a.body.error).toBe('string');
      }
    }
    // Nothing of it happened: the device is still there, its light still off.
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await http(world.stack.apiUrl, 'GET', '/devices/tok-1', undefined, auth)).status).toBe(200);
    expect(world.nodes[0].so.get('lightCtrl', 0, 'onOff')).toBe(false);
    expect(world.nodes[0].announcements).toEqual([]);
  });

  test('with the token the routes work', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const list = await http(world.stack.apiUrl, 'GET', '/devices', undefined, auth);
    expect(list.status).toBe(200);
    expect(list.body.map((d: { clientId: string }) => d.clientId)).toEqual(['tok-1']);
    const read = await http(world.stack.apiUrl, 'POST', '/devices/tok-1/read', { path: 'temperature/0/sensorValue' }, auth);
    expect(read).toEqual({ status: 200, body: { status: 205, data: 21.5 } });
    const ping = await http(world.stack.apiUrl, 'POST', '/devices/tok-1/ping', undefined, auth);
    expect(ping.body.status).toBe(200);
  });
});
