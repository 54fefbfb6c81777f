import { CHANNEL_HANDLERS } from '../../functions';
import { Bridge } from '../../local/bridge';
import { CapturingLog } from '../helpers/integration';
import { startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';

/**
 * MQTT packet ids are 16 bits. A burst can have the bridge publish more than 65,535 QoS 1
 * messages before the broker acknowledges the first: every one of them must still complete.
 */
// A guard against a hang, not a figure: alone it takes about 3 s, inside the whole suite on a
// loaded CI machine it took 16-62 s.
jest.setTimeout(180_000);

let broker: MosquittoProcess;
let bridge: Bridge;

beforeAll(async () => {
  broker = await startMosquitto();
  bridge = new Bridge({
    url: broker.url,
    clientId: `bridge-ids-${process.pid}`,
    log: new CapturingLog(),
    handlers: CHANNEL_HANDLERS,
  });
  await new Promise<void>((resolve, reject) => {
    bridge.client.once('connect', () => resolve());
    bridge.client.once('error', reject);
    bridge.client.connect();
  });
});

afterAll(async () => {
  await bridge.client.endAsync(true);
  await broker.stop();
});

test('70,000 QoS 1 publishes in flight at once all complete', async () => {
  let done = 0;
  await Promise.all(
    Array.from({ length: 70_000 }, (_, i) => bridge.publisher.publish(`request/ids-${i % 100}`, '{}').then(() => done++)),
  );
  expect(done).toBe(70_000);
});

test("the packet ids were written without mqtt-packet's cache of 65,536 Buffers (about 7 MiB the process does not hold)", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { cache } = require('mqtt-packet/numbers') as { cache: Record<number, Buffer> };
  expect(Object.keys(cache)).toHaveLength(0);
});
