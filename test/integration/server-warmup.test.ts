import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { startStack } from '../../local/stack';
import { startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';
import { eventually } from '../helpers/poll';

/**
 * The server's warm-up (local/server-warmup.ts) runs its notify path on a scratch table once
 * ready, in the background: it must leave the real store as it found it.
 */
let broker: MosquittoProcess;
let dir: string;
beforeAll(async () => {
  broker = await startMosquitto();
  dir = mkdtempSync(join(tmpdir(), 'lwmqn-server-warmup-'));
});
afterAll(async () => {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

function capturedLog() {
  const lines: Array<{ msg: string; notifies?: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { msg: string });
      cb();
    },
  });
  return { lines, log: pino({ level: 'info' }, sink) };
}

test('the server runs its notifies once ready, and only its own table is left in the store', async () => {
  const { lines, log } = capturedLog();
  const stack = await startStack(
    { MQTT_URL: broker.url, LWMQN_DATA_DIR: dir, HTTP_PORT: '0', LWMQN_STORE_WARMUP: '300', LWMQN_BRIDGE_ID: 'warmup-test' },
    log,
  );
  try {
    // Ready before the warm-up ends: the API answers while it runs or after.
    expect((await fetch(`${stack.apiUrl}/health`)).status).toBe(200);
    await eventually(() => expect(lines.find((l) => l.msg === 'server warmed up')).toMatchObject({ notifies: 300 }));
    const client = new DynamoDBClient({
      endpoint: stack.dynamoEndpoint,
      region: 'local',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual(['lwmqn']);
    client.destroy();
    expect(lines.filter((l) => /warm-up skipped/.test(l.msg))).toEqual([]);
  } finally {
    await stack.close();
  }
});

test('a warm-up setting that cannot work stops the start with one line naming it', async () => {
  await expect(
    startStack({ MQTT_URL: broker.url, LWMQN_DATA_DIR: dir, HTTP_PORT: '0', LWMQN_STORE_WARMUP: 'lots' }, pino({ level: 'silent' })),
  ).rejects.toThrow(/^LWMQN_STORE_WARMUP must be a whole number of requests, 0 or more, not lots$/);
});
