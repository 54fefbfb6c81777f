/**
 * Remote-read benchmark: N real `mqtt-node` devices on a real Mosquitto, the local stack with
 * dynalite, and remote reads through the HTTP API. Prints reads/s and p50/p99 latency.
 *
 *   npm run bench -- --devices 25 --reads 2000 --concurrency 25 [--json]
 */
import { parseArgs } from 'node:util';
import { startStack } from '../local/stack';
import { startMosquitto } from '../test/helpers/mosquitto';
import { silentLog, startTestStore } from '../test/helpers/recorder';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const MqttNode = require('mqtt-node');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const SmartObject = require('smartobject');

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '25' },
    reads: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '25' },
    json: { type: 'boolean', default: false },
  },
});
const devices = Number(values.devices);
const reads = Number(values.reads);
const concurrency = Number(values.concurrency);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const broker = await startMosquitto();
  const store = await startTestStore();
  const stack = await startStack(
    { MQTT_URL: broker.url, DYNAMODB_ENDPOINT: store.endpoint, HTTP_PORT: '0', LWMQN_BRIDGE_ID: `bench-${process.pid}` },
    silentLog,
  );
  const nodes: any[] = [];
  try {
    const regStart = performance.now();
    await Promise.all(
      Array.from({ length: devices }, (_, i) => {
        const so = new SmartObject();
        so.init('temperature', 0, { sensorValue: 20 + i, units: 'C' });
        const node = new MqttNode(`bench-${i}`, so, { lifetime: 3600 });
        nodes.push(node);
        return new Promise((resolve, reject) =>
          node.connect(broker.url, { reconnectPeriod: 0 }, (err: Error | null, rsp: { status: number }) =>
            err || rsp.status !== 201 ? reject(err ?? new Error(`register answered ${rsp.status}`)) : resolve(rsp),
          ),
        );
      }),
    );
    const regSeconds = (performance.now() - regStart) / 1000;

    const latencies: number[] = [];
    let failures = 0;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < reads) {
          const i = next++;
          const t0 = performance.now();
          const res = await fetch(`${stack.apiUrl}/devices/bench-${i % devices}/read`, {
            method: 'POST',
            body: JSON.stringify({ path: 'temperature/0/sensorValue' }),
          });
          const body = (await res.json()) as { status: number };
          if (res.status !== 200 || body.status !== 205) failures++;
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const result = {
      devices,
      registrationsPerSecond: Math.round(devices / regSeconds),
      reads,
      concurrency,
      failures,
      readsPerSecond: Math.round(reads / seconds),
      p50Ms: Number(percentile(latencies, 50).toFixed(1)),
      p99Ms: Number(percentile(latencies, 99).toFixed(1)),
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`devices                 ${result.devices} (mqtt-node ${require('mqtt-node/package.json').version})`);
      console.log(`registrations/s         ${result.registrationsPerSecond}`);
      console.log(`remote reads            ${result.reads} (${result.concurrency} in flight, ${result.failures} failed)`);
      console.log(`remote reads/s          ${result.readsPerSecond}`);
      console.log(`read latency p50 / p99  ${result.p50Ms} ms / ${result.p99Ms} ms`);
      console.log(`process RSS             ${result.rssMiB} MiB (bench, devices and server in one process)`);
    }
    if (failures > 0) process.exitCode = 1;
  } finally {
    for (const n of nodes) n.mc?.end(true);
    await stack.close();
    await store.close();
    await broker.stop();
  }
}

main().then(
  () => process.exit(),
  (err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
