import type { Stack } from '../../local/stack';
import { startStack } from '../../local/stack';
import { silentLog, startTestStore, type TestStore } from '../helpers/recorder';
import { startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';

// The real LWMQN client from npm, as devices in the field run it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const MqttNode = require('mqtt-node');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const SmartObject = require('smartobject');

let broker: MosquittoProcess;
let store: TestStore;
let stack: Stack;

beforeAll(async () => {
  broker = await startMosquitto();
  store = await startTestStore();
  stack = await startStack(
    { MQTT_URL: broker.url, DYNAMODB_ENDPOINT: store.endpoint, HTTP_PORT: '0', LWMQN_BRIDGE_ID: 'e2e-bridge' },
    silentLog,
  );
});

afterAll(async () => {
  await stack?.close();
  await store?.close();
  await broker?.stop();
});

function makeNode(clientId: string) {
  const so = new SmartObject();
  so.init('temperature', 0, { sensorValue: 21.5, units: 'C' });
  return new MqttNode(clientId, so, { lifetime: 600, ip: '127.0.0.1', version: '0.0.1' });
}

const api = async (path: string) => {
  const res = await fetch(`${stack.apiUrl}${path}`);
  return { status: res.status, body: (await res.json()) as any };
};

async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = await probe();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}

test('mqtt-node registers (201), its objects are read and stored, its notifications land, it deregisters', async () => {
  const node = makeNode('e2e-node-1');
  // mqtt-node looks up the host's mac asynchronously and registers with mac null if it connects
  // first (a 400 it never calls back on): wait for its 'ready'.
  await new Promise<void>((resolve) => node.once('ready', () => resolve()));
  const registered = new Promise<{ status: number }>((resolve, reject) => {
    node.connect(broker.url, { reconnectPeriod: 0 }, (err: Error | null, rsp: { status: number }) =>
      err ? reject(err) : resolve(rsp),
    );
  });
  expect((await registered).status).toBe(201);

  const record = await api('/devices/e2e-node-1');
  expect(record.status).toBe(200);
  expect(record.body).toMatchObject({ clientId: 'e2e-node-1', lifetime: 600, status: 'online' });
  expect(record.body.objList).toMatchObject({ '1': [0], '3': [0], '4': [0], '3303': [0] });

  const objects = await api('/devices/e2e-node-1/objects');
  expect(objects.body['3303']['0']).toEqual({ '5700': 21.5, '5701': 'C' });
  expect(objects.body['3']['0']['0']).toBe('lwmqn'); // device.manuf, keyed by numeric rid
  expect(objects.body['3']['0']['4']).toBe('_exec_'); // reboot is executable: kept as its tag

  const notified = await new Promise<{ status: number }>((resolve, reject) =>
    node.notify({ oid: 3303, iid: 0, rid: 5700, data: 30.25 }, (err: Error | null, rsp: { status: number }) =>
      err ? reject(err) : resolve(rsp),
    ),
  );
  expect(notified.status).toBe(204);
  const stored = await eventually(
    () => api('/devices/e2e-node-1/objects'),
    (r) => r.body['3303']['0']['5700'] === 30.25,
  );
  expect(stored.body['3303']['0']['5700']).toBe(30.25);

  const left = await new Promise<{ status: number }>((resolve, reject) =>
    node.deregister((err: Error | null, rsp: { status: number }) => (err ? reject(err) : resolve(rsp))),
  );
  expect(left.status).toBe(202);
  expect((await api('/devices/e2e-node-1')).status).toBe(404);
});
