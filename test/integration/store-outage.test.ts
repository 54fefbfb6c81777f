import { startStack, type Stack } from '../../local/stack';
import { TestDevice } from '../helpers/device';
import { CapturingLog, registerDevice, sampleObjects, sampleObjectsStored } from '../helpers/integration';
import { startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';
import { eventually } from '../helpers/poll';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStoreThread, type Running } from '../../local/embedded-store';
import { CuttableProxy, type CutMode } from '../helpers/tcp-proxy';

/**
 * The store goes away under the running stack (its port refuses connections, or it accepts
 * them and never answers) while a registered device keeps notifying: the server does not
 * crash, GET /health says 503 degraded, nothing is answered while nothing can be stored; once
 * the store is back every notification is answered 204 in order, the last value is the one
 * stored, /health is 200 again and every device is still registered.
 */
jest.setTimeout(180_000);

const NOTIFIES = 20;

let mosquitto: MosquittoProcess;
// The store runs in a thread of its own, as with npm start; requests the stack abandoned while it
// hung end with it when the test closes it.
let store: Running;
let proxy: CuttableProxy;
let stack: Stack;
const log = new CapturingLog();
const devices: TestDevice[] = [];
const registered: string[] = [];
const crashes: unknown[] = [];
const onCrash = (reason: unknown) => crashes.push(reason);

beforeAll(async () => {
  // An unhandled rejection or exception would kill a real server process: record them all.
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
  mosquitto = await startMosquitto();
  store = await startStoreThread(mkdtempSync(join(tmpdir(), 'lwmqn-outage-')), 2000);
  proxy = await CuttableProxy.start(Number(new URL(store.url).port));
  stack = await startStack(
    {
      MQTT_URL: mosquitto.url,
      DYNAMODB_ENDPOINT: proxy.url,
      TABLE_NAME: 'lwmqn_outage',
      HTTP_PORT: '0',
      LWMQN_BRIDGE_ID: `outage-bridge-${process.pid}`,
      LWMQN_REAPER_INTERVAL_MS: '500',
    },
    log,
  );
});

afterAll(async () => {
  await proxy?.restore().catch(() => undefined);
  await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
  await stack?.close().catch(() => undefined);
  await proxy?.close();
  await store?.close();
  await mosquitto?.stop();
  process.off('unhandledRejection', onCrash);
  process.off('uncaughtException', onCrash);
});

async function http(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.apiUrl}${path}`);
  return { status: res.status, body: await res.json() };
}

describe.each<[string, CutMode]>([
  ['refuses connections', 'refuse'],
  ['accepts connections and never answers', 'blackhole'],
])('the store %s', (_what, mode) => {
  test(`${NOTIFIES} notifies during the outage are answered 204 once it is back, none lost, registrations kept`, async () => {
    const id = `outage-${mode}`;
    const dev = await TestDevice.connect(mosquitto.url, id, { objects: sampleObjects(), timeoutMs: 30_000 });
    devices.push(dev);
    expect((await registerDevice(dev, { transId: 1 })).status).toBe(201);
    registered.push(id);
    const recordBefore = (await http(`/devices/${id}`)).body;
    expect((await http('/health')).status).toBe(200);

    const notifyAnswers = () => dev.received.filter((m) => m.topic === `notify/response/${id}`).map((m) => m.json);
    const handlerFailures = () =>
      log.errors().filter((e) => (e.obj as { topic?: string }).topic === `notify/${id}` && e.msg === 'handler failed; retrying');

    await proxy.cut(mode);
    for (let i = 1; i <= NOTIFIES; i++) await dev.publish('notify', { transId: 1000 + i, oid: 3303, iid: 0, rid: 5700, data: i });

    // Degraded, and the handler really met the outage (it failed and is being retried).
    await eventually(
      async () => {
        expect(handlerFailures().length).toBeGreaterThan(0);
        const health = await http('/health');
        expect(health.status).toBe(503);
        expect(health.body).toMatchObject({ ok: false, status: 'degraded' });
        expect(health.body.problems.length).toBeGreaterThan(0);
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    // Nothing can be stored, so nothing is answered (no 500, no premature 204).
    expect(notifyAnswers()).toEqual([]);
    expect(crashes).toEqual([]);

    await proxy.restore();
    await eventually(() => expect(notifyAnswers()).toHaveLength(NOTIFIES), { timeoutMs: 90_000, intervalMs: 200 });
    // In order, each once, all stored.
    expect(notifyAnswers()).toEqual(Array.from({ length: NOTIFIES }, (_, i) => ({ transId: 1001 + i, status: 204 })));
    // The last value is the one stored; the rest of the tree is as registered.
    const tree = sampleObjectsStored() as Record<string, Record<string, Record<string, unknown>>>;
    expect((await http(`/devices/${id}/objects`)).body).toEqual({
      ...tree,
      '3303': { ...tree['3303'], '0': { '5700': NOTIFIES, '5701': 'C' } },
    });

    await eventually(
      async () => {
        const health = await http('/health');
        expect(health.status).toBe(200);
        expect(health.body).toMatchObject({ ok: true });
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    // The registration is the same one (only its lifetime renewed by the notifies).
    const recordAfter = (await http(`/devices/${id}`)).body;
    expect(recordAfter).toEqual({ ...recordBefore, expiresAt: recordAfter.expiresAt });
    expect(recordAfter.expiresAt).toBeGreaterThanOrEqual(recordBefore.expiresAt);
    expect(await dev.call('ping', { transId: 77 })).toEqual({ transId: 77, status: 200 });
    // Every device registered so far (across both outages) is still there.
    const listed = (await http('/devices')).body.map((d: { clientId: string }) => d.clientId);
    expect(listed.sort()).toEqual([...registered].sort());
    expect(crashes).toEqual([]);
  });
});
