import { handler as deregister } from '../../functions/deregister';
import { handler as lwt } from '../../functions/lwt';
import { handler as notify } from '../../functions/notify';
import { handler as ping } from '../../functions/ping';
import { handler as reaper } from '../../functions/reaper';
import { handler as register } from '../../functions/register';
import { handler as response } from '../../functions/response';
import { handler as schedule } from '../../functions/schedule';
import { handler as update } from '../../functions/update';
import type { ChannelMessage } from '../../shared/deps';
import { ensureTable } from '../../shared/store/table/definition';
import { startIotDataEndpoint, type IotDataEndpoint } from '../helpers/iot-data-endpoint';
import { eventually } from '../helpers/poll';
import { startTestStore, type RecordingPublisher, type TestStore } from '../helpers/recorder';

/**
 * The Lambda entries as a topic rule calls them: the event is exactly what
 * `SELECT encode(*, 'base64') AS payload, topic() AS topic, clientid() AS mqttClientId,
 * timestamp() AS receivedAt` builds, the deps come from the environment (TABLE_NAME and
 * DYNAMODB_ENDPOINT at an in-memory dynalite), and they publish through the real IoT data-plane
 * client to a local stand-in of its REST endpoint (IOT_DATA_ENDPOINT).
 */
const ENTRIES = { register, deregister, update, ping, notify, schedule, lwt, response };

let store: TestStore;
let iot: IotDataEndpoint;
let published: RecordingPublisher;
const savedEnv = { ...process.env };

beforeAll(async () => {
  store = await startTestStore();
  iot = await startIotDataEndpoint();
  const tableName = `entries_${process.pid}`;
  await ensureTable(store.client, tableName);
  Object.assign(process.env, {
    TABLE_NAME: tableName,
    DYNAMODB_ENDPOINT: store.endpoint,
    IOT_DATA_ENDPOINT: iot.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    LWMQN_REQUEST_TIMEOUT_MS: '10000',
    LWMQN_JOIN: 'open',
    // Every event type, so the entries' devNotify and devChange are seen too (unset is the
    // lifecycle types only, the test below).
    LWMQN_EVENTS: 'all',
    LOG_LEVEL: 'silent',
  });
});

beforeEach(() => {
  published = iot.reset();
});

afterAll(async () => {
  process.env = savedEnv;
  await iot.close();
  await store.close();
});

/** What the topic rule delivers for a publish of `payload` on `topic` by MQTT client `mqttClientId`. */
function ruleEvent(topic: string, payload: unknown, mqttClientId = topic.slice(topic.indexOf('/') + 1)): ChannelMessage {
  const raw = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return { payload: raw.toString('base64'), topic, mqttClientId, receivedAt: Date.now() };
}

const REGISTER = {
  transId: 7,
  lifetime: 600,
  objList: { '1': [0], '3303': [0] },
  ip: '10.0.0.7',
  mac: 'AA:BB:CC:00:00:07',
  version: '1.0.0',
};

const TREES: Record<number, unknown> = {
  1: { '0': { shortServerId: null, lifetime: 600 } },
  3303: { '0': { sensorValue: 21.5, units: 'C' } },
};

/** Registers `clientId` through the register and response entries, answering every read it publishes. */
async function registerThroughEntries(clientId: string): Promise<void> {
  await register(ruleEvent(`register/${clientId}`, REGISTER));
  const reads = published.on(`request/${clientId}`);
  expect(reads.map((r) => [r.cmdId, r.oid]).sort()).toEqual([
    [0, 1],
    [0, 3303],
  ]);
  expect(published.on(`register/response/${clientId}`)).toEqual([]);
  for (const read of reads) {
    await response(
      ruleEvent(`response/${clientId}`, { transId: read.transId, cmdId: read.cmdId, status: 205, data: TREES[read.oid] }),
    );
  }
}

test('a full registration through the register and response entries ends in 201', async () => {
  await registerThroughEntries('entry-dev-1');
  expect(published.on('register/response/entry-dev-1')).toEqual([{ transId: 7, status: 201 }]);
  const incoming = published.on('lwmqn/events/entry-dev-1/devIncoming');
  expect(incoming).toHaveLength(1);
  expect(incoming[0]).toMatchObject({ type: 'devIncoming', clientId: 'entry-dev-1' });

  // The same device again (a new transId) with the same objList is simply renewed: 200, no reads.
  published.clear();
  await register(ruleEvent('register/entry-dev-1', { ...REGISTER, transId: 8 }));
  expect(published.on('register/response/entry-dev-1')).toEqual([{ transId: 8, status: 200 }]);
  expect(published.on('request/entry-dev-1')).toEqual([]);
});

test('every channel entry answers a registered device on its response topic', async () => {
  const id = 'entry-dev-2';
  await registerThroughEntries(id);
  published.clear();

  await ping(ruleEvent(`ping/${id}`, { transId: 1 }));
  expect(published.on(`ping/response/${id}`)).toEqual([{ transId: 1, status: 200 }]);

  await notify(ruleEvent(`notify/${id}`, { transId: 2, oid: 3303, iid: 0, rid: 5700, data: 30 }));
  expect(published.on(`notify/response/${id}`)).toEqual([{ transId: 2, status: 204 }]);
  expect(published.on(`lwmqn/events/${id}/devChange`)[0]).toMatchObject({ data: { oid: 3303, iid: 0, rid: 5700, data: 30 } });

  await update(ruleEvent(`update/${id}`, { transId: 3, ip: '10.0.0.8' }));
  expect(published.on(`update/response/${id}`)).toEqual([{ transId: 3, status: 204 }]);
  expect(published.on(`lwmqn/events/${id}/devUpdate`)[0]).toMatchObject({ data: { ip: '10.0.0.8' } });

  await schedule(ruleEvent(`schedule/${id}`, { transId: 4, sleep: true, duration: 60 }));
  expect(published.on(`schedule/response/${id}`)).toEqual([{ transId: 4, status: 200 }]);

  // The will: no answer (nobody is listening), the device is reported offline.
  published.clear();
  await lwt(ruleEvent(`lwt/${id}`, 'gone'));
  expect(published.published.map((p) => p.topic)).toEqual([`lwmqn/events/${id}/devStatus`]);
  expect(published.on(`lwmqn/events/${id}/devStatus`)[0]).toMatchObject({ data: 'offline' });

  published.clear();
  await deregister(ruleEvent(`deregister/${id}`, { transId: 5 }));
  expect(published.on(`deregister/response/${id}`)).toEqual([{ transId: 5, status: 202 }]);
  expect(published.on(`lwmqn/events/${id}/devLeaving`)).toHaveLength(1);

  published.clear();
  await ping(ruleEvent(`ping/${id}`, { transId: 6 }));
  expect(published.on(`ping/response/${id}`)).toEqual([{ transId: 6, status: 404 }]);
});

test('LWMQN_EVENTS filters the events; answers go to the device at QoS 0, events at QoS 1', async () => {
  const id = 'entry-dev-6';
  await registerThroughEntries(id);
  expect(iot.qos.get(`request/${id}`)).toBe('0');
  expect(iot.qos.get(`register/response/${id}`)).toBe('0');
  expect(iot.qos.get(`lwmqn/events/${id}/devIncoming`)).toBe('1');

  delete process.env.LWMQN_EVENTS; // unset: the lifecycle types, the stack's default too
  try {
    published = iot.reset();
    await notify(ruleEvent(`notify/${id}`, { transId: 2, oid: 3303, iid: 0, rid: 5700, data: 31 }));
    // The answer alone: no devNotify, no devChange.
    expect(published.published.map((p) => p.topic)).toEqual([`notify/response/${id}`]);
    expect(iot.qos.get(`notify/response/${id}`)).toBe('0');
  } finally {
    process.env.LWMQN_EVENTS = 'all';
  }
});

test('a payload that is not JSON still reaches the entry and gets its 400', async () => {
  await notify(ruleEvent('notify/entry-dev-3', Buffer.from([0xff, 0xfe, 0x00, 0x7b])));
  expect(published.on('notify/response/entry-dev-3')).toEqual([{ transId: 0, status: 400 }]);
});

describe('a spoofed event (the publishing MQTT client is not the topic clientId) publishes nothing', () => {
  const id = 'entry-dev-4';
  const valid: Record<keyof typeof ENTRIES, unknown> = {
    register: REGISTER,
    deregister: { transId: 1 },
    update: { transId: 1, ip: '6.6.6.6' },
    ping: { transId: 1 },
    notify: { transId: 1, oid: 3303, iid: 0, rid: 5700, data: 99 },
    schedule: { transId: 1, sleep: true },
    lwt: 'gone',
    response: { transId: 1, cmdId: 0, status: 205, data: {} },
  };

  beforeAll(async () => {
    published = iot.reset();
    await registerThroughEntries(id);
  });

  test.each(Object.keys(ENTRIES) as (keyof typeof ENTRIES)[])('%s', async (channel) => {
    await ENTRIES[channel](ruleEvent(`${channel}/${id}`, valid[channel], 'intruder'));
    expect(published.published).toEqual([]);
  });

  test('and changes nothing: the device is still registered, untouched', async () => {
    await ping(ruleEvent(`ping/${id}`, { transId: 9 }));
    expect(published.on(`ping/response/${id}`)).toEqual([{ transId: 9, status: 200 }]);
    expect(published.on(`lwmqn/events/${id}/devUpdate`)).toEqual([]);
  });
});

test('the reaper entry takes its deadline from the Lambda context: with less than its margin left it starts nothing', async () => {
  const id = 'entry-dev-7';
  await registerThroughEntries(id);
  await update(ruleEvent(`update/${id}`, { transId: 2, lifetime: 1 }));
  published.clear();
  // Once the second has passed: a context with 9 s left is inside the 10 s margin, one with 50 s is not.
  await eventually(
    async () => {
      const cut = await reaper(undefined, { getRemainingTimeInMillis: () => 9_000 });
      expect(cut).toMatchObject({ expired: [], left: 0, stoppedEarly: true });
      const report = await reaper(undefined, { getRemainingTimeInMillis: () => 50_000 });
      expect(report).toMatchObject({ expired: [id], left: 0, stoppedEarly: false });
    },
    { timeoutMs: 5_000, intervalMs: 200 },
  );
  expect(published.on(`lwmqn/events/${id}/devLeaving`)).toHaveLength(1);
});

test('a store failure rejects the invocation, so Lambda retries it and then dead-letters it', async () => {
  process.env.DYNAMODB_ENDPOINT = 'http://127.0.0.1:9'; // the deps are built anew for it
  try {
    await expect(ping(ruleEvent('ping/entry-dev-5', { transId: 1 }))).rejects.toThrow();
    expect(published.published).toEqual([]);
  } finally {
    process.env.DYNAMODB_ENDPOINT = store.endpoint;
  }
});
