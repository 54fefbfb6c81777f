import mqtt from 'mqtt';
import { registerPayload, sampleObjects, startWorld, type IntegrationWorld } from '../helpers/integration';

/**
 * A burst of thousands of registers (a fleet coming back after an outage) queues in the broker
 * towards the one bridge connection, and the devices' answers to their registration reads queue
 * behind it. The answers' lateness is then the server's, not the device's: while the bridge is
 * behind, registrations in progress must not time out.
 */
jest.setTimeout(120_000);

let world: IntegrationWorld;

beforeAll(async () => {
  world = await startWorld({
    // One handler at a time and a short answer timeout: a few thousand registers outlast it.
    LWMQN_BRIDGE_CONCURRENCY: '1',
    LWMQN_REQUEST_TIMEOUT_MS: '1000',
    LWMQN_REAPER_INTERVAL_MS: '200',
  });
});

afterAll(async () => world?.close());

test('answers that wait in the broker behind a burst of registers still complete the registration', async () => {
  const device = await world.device('backlog-dev', { objects: sampleObjects(), autoAnswer: false });
  const transId = device.nextTransId();
  const answer = device.call('register', { transId, ...registerPayload() }, { timeoutMs: 90_000 });
  const reads = await device.waitForRequests(3);

  // The burst, then the device's answers behind most of it: they reach the bridge only after
  // thousands of registers have.
  const flood = await mqtt.connectAsync(world.mosquitto.url, { clientId: `flood-${process.pid}`, reconnectPeriod: 0 });
  // Each register sends a read per object: 16 make each one slow enough to queue the burst.
  const objList = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [String(3300 + i), [0]]));
  const burst = JSON.stringify({ transId: 1, ...registerPayload({ objList }) });
  const send = (from: number, to: number) =>
    Promise.all(Array.from({ length: to - from }, (_, i) => flood.publishAsync(`register/flood-${from + i}`, burst, { qos: 1 })));
  const started = Date.now();
  await send(0, 6000);
  for (const r of reads) {
    await device.publishTo(`response/${device.clientId}`, {
      transId: r.transId,
      cmdId: 0,
      status: 205,
      data: sampleObjects()[String(r.oid)],
    });
  }
  await send(6000, 8000);

  const registered = await answer;
  const waited = Date.now() - started;
  await flood.endAsync();
  expect(registered.status).toBe(201);
  // Deadlines are whole seconds, so a 1 s timeout fails a registration within 3 s at the
  // latest; had the answers been handled sooner, this would have tested nothing.
  expect(waited).toBeGreaterThan(3_000);
});
