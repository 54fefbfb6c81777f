import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestDevice } from '../helpers/device';
import { registerDevice, sampleObjects } from '../helpers/integration';
import { startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';
import { eventually } from '../helpers/poll';
import { freePort } from '../helpers/ports';

// Nothing lost: the server process is killed with SIGKILL while a device streams numbered QoS 1
// notifications, then started again; every notification must end up answered 204, none with
// another status, and the stored value must be the last one sent.
const ROOT = resolve(__dirname, '../..');
const TOTAL = 2000;
jest.setTimeout(180_000);

let broker: MosquittoProcess;
let server: ChildProcess | undefined;
let device: TestDevice | undefined;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  broker = await startMosquitto();
  env = {
    ...process.env,
    MQTT_URL: broker.url,
    LWMQN_DATA_DIR: mkdtempSync(join(tmpdir(), 'lwmqn-kill-')),
    HTTP_PORT: String(await freePort()),
    LWMQN_BRIDGE_ID: `kill-bridge-${process.pid}`,
    LOG_LEVEL: 'error',
  };
});

afterAll(async () => {
  server?.kill('SIGKILL');
  await device?.close();
  await broker?.stop();
});

async function startServer(): Promise<ChildProcess> {
  // node itself, not npm: SIGKILL must hit the server process, not a parent of it.
  const child = spawn(process.execPath, ['local/launch.cjs'], { cwd: ROOT, env, stdio: 'ignore' });
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
      const res = await fetch(`http://127.0.0.1:${env.HTTP_PORT}/health`);
      expect(res.status).toBe(200);
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return child;
}

test(`SIGKILL in the middle of ${TOTAL} QoS 1 notifications loses none`, async () => {
  server = await startServer();
  device = await TestDevice.connect(broker.url, 'streamer', { objects: sampleObjects(), timeoutMs: 15_000 });
  expect((await registerDevice(device)).status).toBe(201);

  const answers = () => device!.received.filter((m) => m.topic === 'notify/response/streamer').map((m) => m.json);
  const send = async (from: number, to: number) => {
    for (let i = from; i <= to; i++) await device!.publish('notify', { transId: i, oid: 3303, iid: 0, rid: 5700, data: i });
  };
  // A first quarter, killed while it is being worked through...
  await send(1, TOTAL / 4);
  await eventually(() => expect(answers().length).toBeGreaterThanOrEqual(TOTAL / 8), { timeoutMs: 60_000 });
  server.kill('SIGKILL');
  await new Promise((r) => server!.once('exit', r));
  const answeredBeforeKill = answers().length;
  expect(answeredBeforeKill).toBeLessThan(TOTAL);
  // ...the rest published while no server runs, then the server comes back.
  await send(TOTAL / 4 + 1, TOTAL);
  server = await startServer();

  await eventually(
    () => {
      const answered = new Set(answers().map((a) => a.transId));
      expect(answered.size).toBe(TOTAL);
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  const statuses = new Set(answers().map((a) => a.status));
  expect([...statuses]).toEqual([204]);

  const res = await fetch(`http://127.0.0.1:${env.HTTP_PORT}/devices/streamer/objects`);
  const objects = (await res.json()) as Record<string, Record<string, Record<string, unknown>>>;
  expect(objects['3303']['0']['5700']).toBe(TOTAL);
  const duplicates = answers().length - TOTAL;
  console.log(
    `kill-restart: killed after ${answeredBeforeKill} answers; ${TOTAL} answered 204, ${duplicates} redelivered answers, 0 lost`,
  );
});
