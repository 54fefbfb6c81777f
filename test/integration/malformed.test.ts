import type { RespondingChannel, TestDevice } from '../helpers/device';
import { registerDevice, sampleObjects, sampleObjectsStored, startWorld, type IntegrationWorld } from '../helpers/integration';
import { eventually } from '../helpers/poll';

/**
 * Broken and hostile input on every channel, through the real broker and bridge: each is
 * answered 400 where the channel has a response topic (echoing the client's transId when it
 * could be read, else 0), nothing is stored, no handler fails, and the server keeps serving.
 */
let world: IntegrationWorld;
let victim: TestDevice;

beforeAll(async () => {
  world = await startWorld();
  victim = await world.device('mal-victim', { objects: sampleObjects() });
  expect((await registerDevice(victim)).status).toBe(201);
});
afterAll(async () => world?.close());
afterEach(() => {
  // A handler that throws is retried by the bridge and logged as an error: none may.
  expect(world.log.errors()).toEqual([]);
});

const KIB100 = 'x'.repeat(100 * 1024);

/** A body each channel accepts, with transId 70. */
const VALID: Record<RespondingChannel, Record<string, unknown>> = {
  register: {
    transId: 70,
    lifetime: 600,
    ip: '127.0.0.1',
    mac: 'AA:BB:CC:00:00:01',
    version: '0.0.1',
    objList: { '1': [0], '3': [0], '3303': [0, 1] },
  },
  update: { transId: 70, lifetime: 600 },
  ping: { transId: 70 },
  deregister: { transId: 70 },
  notify: { transId: 70, oid: 3303, iid: 0, rid: 5700, data: 21.5 },
  schedule: { transId: 70, sleep: false },
};

/** [what, raw payload, transIds the 400 may carry] */
type Case = [string, string | Buffer, number[]];

function cases(channel: RespondingChannel): Case[] {
  const valid = VALID[channel];
  const body = JSON.stringify(valid);
  const out: Case[] = [
    ['not JSON', `{"transId":70,`, [0]],
    ['an empty payload', '', [0]],
    ['binary garbage', Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x01]), [0]],
    ['a JSON array', `[${body}]`, [0]],
    ['JSON null', 'null', [0]],
    ['a JSON string', JSON.stringify(body), [0]],
    ['a transId of the wrong type', JSON.stringify({ ...valid, transId: '70' }), [0]],
    ['a negative transId', JSON.stringify({ ...valid, transId: -70 }), [0]],
    ['no transId', JSON.stringify({ ...valid, transId: undefined }), [0]],
    ['a 100 KiB payload', JSON.stringify({ ...valid, pad: KIB100 }), [70, 0]],
    ['a __proto__ key', `${body.slice(0, -1)},"__proto__":{"polluted":true}}`, [70]],
  ];
  // Wrong types of the channel's own fields.
  const wrong: Record<RespondingChannel, Record<string, unknown>[]> = {
    register: [{ mac: 42 }, { objList: 'all' }, { lifetime: 'forever' }, { ip: ['127.0.0.1'] }],
    update: [{ lifetime: 'forever' }, { objList: 17 }, { version: {} }],
    ping: [],
    deregister: [],
    notify: [{ oid: [3303] }, { iid: { i: 0 } }, { rid: true }, { data: undefined }],
    schedule: [{ sleep: 'yes' }, { sleep: 1 }, { duration: 'long', sleep: true }],
  };
  for (const w of wrong[channel])
    out.push([
      `wrong type ${JSON.stringify(w, (_k, v) => (v === undefined ? '(missing)' : v))}`,
      JSON.stringify({ ...valid, ...w }),
      [70],
    ]);
  // Unknown fields are a 400 on every channel that answers (docs/PROTOCOL.md, "Unknown fields").
  out.push(['an unknown field', JSON.stringify({ ...valid, colour: 'red' }), [70]]);
  return out;
}

const CHANNELS: RespondingChannel[] = ['register', 'update', 'ping', 'deregister', 'notify', 'schedule'];

describe.each(CHANNELS)('%s', (channel) => {
  test.each(cases(channel))(`${channel} with %s is answered 400`, async (_what, raw, transIds) => {
    const answer = await victim.call(channel, raw, { transIds });
    expect(answer.status).toBe(400);
    expect(transIds).toContain(answer.transId);
    expect(Object.keys(answer).sort()).toEqual(['status', 'transId']);
  });
});

test('after all that the victim is still registered, unchanged, and answers normally', async () => {
  const record = await world.http('/devices/mal-victim');
  expect(record.status).toBe(200);
  expect(record.body).toMatchObject({ mac: 'aa:bb:cc:00:00:01', lifetime: 600, ip: '127.0.0.1', status: 'online' });
  expect((await world.http('/devices/mal-victim/objects')).body).toEqual(sampleObjectsStored());
  expect((await victim.call('ping', {})).status).toBe(200);
  expect((await victim.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 22 })).status).toBe(204);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

test('a valid message with an unknown field is a 400 on every answering channel, and changes nothing', async () => {
  const before = (await world.http('/devices/mal-victim')).body;
  const objects = (await world.http('/devices/mal-victim/objects')).body;
  expect((await victim.call('ping', { debug: 1 })).status).toBe(400);
  expect((await victim.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 23, seq: 9 })).status).toBe(400);
  expect((await victim.call('schedule', { sleep: true, note: 'x' })).status).toBe(400);
  expect((await victim.call('update', { ip: '9.9.9.9', note: 'x' })).status).toBe(400);
  expect((await victim.call('deregister', { reason: 'x' })).status).toBe(400);
  expect((await world.http('/devices/mal-victim')).body).toEqual(before);
  expect((await world.http('/devices/mal-victim/objects')).body).toEqual(objects);
});

test('garbage on response/<id> during a registration is dropped and the registration completes', async () => {
  const dev = await world.device('mal-resp', { objects: sampleObjects() });
  dev.onRequest = (req) => {
    // Before each real answer: not JSON, wrong types, 100 KiB, an unknown transId, a wrong cmdId.
    void dev.publish('response', 'not json');
    void dev.publish('response', { transId: req.transId, cmdId: 'read', status: 205, data: {} });
    void dev.publish('response', { transId: req.transId, cmdId: 0, status: '205', data: {} });
    void dev.publish('response', { transId: req.transId, cmdId: 0, status: 205, data: KIB100 });
    // The server's transIds are 16-bit: 70000 is one it never asked with.
    void dev.publish('response', { transId: 70000, cmdId: 0, status: 205, data: {} });
    void dev.publish('response', { transId: req.transId, cmdId: 3, status: 205, data: {} });
    return undefined; // then the real answer
  };
  expect(await registerDevice(dev, { transId: 501 })).toEqual({ transId: 501, status: 201 });
  expect((await world.http('/devices/mal-resp/objects')).body).toEqual(sampleObjectsStored());
  // An answer given twice is dropped the second time.
  dev.onRequest = undefined;
  for (const req of dev.requests) await dev.answer(req, 205, { '0': { sensorValue: -1 } });
  expect((await dev.call('ping', {})).status).toBe(200);
  expect((await world.http('/devices/mal-resp/objects')).body).toEqual(sampleObjectsStored());
});

test('garbage and 100 KiB on lwt/<id> only set the device offline', async () => {
  const dev = await world.device('mal-lwt', { objects: sampleObjects() });
  expect((await registerDevice(dev)).status).toBe(201);
  await dev.publish('lwt', Buffer.from([0xff, 0x00, 0xfe]));
  await dev.publish('lwt', KIB100);
  await eventually(async () => expect((await world.http('/devices/mal-lwt')).body.status).toBe('offline'));
  expect((await world.http('/devices/mal-lwt/objects')).body).toEqual(sampleObjectsStored());
  expect((await dev.call('ping', {})).status).toBe(200);
  await eventually(async () => expect((await world.http('/devices/mal-lwt')).body.status).toBe('online'));
});

test('messages on topics whose clientId is invalid are dropped without harm', async () => {
  const dev = await world.device('mal-topics');
  for (const topic of [
    'register/',
    'ping/',
    'notify/',
    'response/',
    'lwt/',
    `register/${'x'.repeat(129)}`,
    `ping/${'y'.repeat(129)}`,
  ]) {
    await dev.publishTo(topic, JSON.stringify(VALID.register));
  }
  // Topics the server does not subscribe to (extra levels) reach no handler either.
  await dev.publishTo('register/mal-topics/extra', JSON.stringify(VALID.register));
  expect((await world.http('/health')).status).toBe(200);
  expect((await world.http(`/devices/${'x'.repeat(129)}`)).status).toBe(400);
  expect((await dev.call('ping', {})).status).toBe(404);
  expect((await world.http('/devices/mal-topics')).status).toBe(404);
});

test('the server stays up and a valid device still registers afterwards', async () => {
  expect((await world.http('/health')).body).toMatchObject({ ok: true });
  const dev = await world.device('mal-after', { objects: sampleObjects() });
  expect(await registerDevice(dev, { transId: 999 })).toEqual({ transId: 999, status: 201 });
  expect((await world.http('/devices/mal-after/objects')).body).toEqual(sampleObjectsStored());
  expect(world.stack.bridge.client.connected).toBe(true);
});
