import { DescribeTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import mqtt, { type MqttClient } from 'mqtt';
import { makeNode, nodeCall, type E2eNode } from '../helpers/mqtt-node';
import { eventually } from '../helpers/poll';
import { CloudEmulation, synthesize, type Observer } from './emulator';

/**
 * "`cdk deploy` ships a working server": the CDK app synthesized as `cdk synth` runs it, and its
 * cloud assembly run by the emulation (test/cloud/emulator.ts): the bundles in their own
 * processes with the template's environment and IAM, the topic rules' SQL, the HTTP API's
 * events, the reaper's schedule. Real `mqtt-node` devices talk to it through a real Mosquitto
 * whose ACL is the template's device policy.
 */

// Long enough for a registration's reads on a loaded two-core machine, short enough for a fast test.
const REQUEST_TIMEOUT_MS = 8000;

let emu: CloudEmulation;
let events: Observer;
const nodes: E2eNode[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  const assembly = await synthesize({
    stackName: 'LwmqnEmulated',
    iotEndpoint: 'emulated-ats.iot.us-east-1.amazonaws.com',
    requestTimeoutMs: String(REQUEST_TIMEOUT_MS),
  });
  emu = new CloudEmulation(assembly);
  await emu.start();
  events = await emu.observer('lwmqn/events/#');
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close().catch(() => undefined)));
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await emu?.close();
});

/** An HTTP API call, with an Authorization header as a SigV4-signing client sends one. */
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${emu.apiUrl}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

const eventsOf = (clientId: string, type: string) =>
  events.messages.filter((m) => m.topic === `lwmqn/events/${clientId}/${type}`).map((m) => JSON.parse(m.payload));

async function device(clientId: string, opts: { lifetime?: number } = {}): Promise<{ node: E2eNode; status: number }> {
  const node = makeNode(clientId, opts);
  nodes.push(node);
  const rsp = await node.connect(emu.broker.url);
  return { node, status: rsp.status };
}

test('the assembly holds what the emulation runs: eleven bundled functions, eight rules, the API route, the reaper schedule', () => {
  expect(emu.functions.size).toBe(11);
  const reaper = emu.schedules.find((s) => s.target === emu.fn('Reaper'));
  expect(reaper?.expression).toBe('rate(1 minute)');
  expect(reaper?.periodMs).toBe(60_000);
});

test('the HTTP API: an unsigned request is refused by the IAM authorizer, a signed one reaches the function', async () => {
  expect((await fetch(`${emu.apiUrl}/health`)).status).toBe(403);
  const health = await api('GET', '/health');
  expect(health.status).toBe(200);
  expect(health.body).toMatchObject({ ok: true });
  expect((await api('GET', '/devices/nobody?verbose=1')).status).toBe(404);
  expect((await api('GET', '/no/such/route')).status).toBe(404);
}, 20_000);

test('a payload that is not JSON goes through the rule as base64 and gets its 400', async () => {
  const id = 'cloud-dev-5';
  const client = await mqtt.connectAsync(emu.broker.url, { clientId: id, reconnectPeriod: 0 });
  clients.push(client);
  const answers: unknown[] = [];
  client.on('message', (_topic, payload) => answers.push(JSON.parse(payload.toString())));
  await client.subscribeAsync(`notify/response/${id}`, { qos: 1 });
  await client.publishAsync(`notify/${id}`, Buffer.from([0xff, 0xfe, 0x00, 0x7b]), { qos: 1 });
  await eventually(() => expect(answers).toEqual([{ transId: 0, status: 400 }]));
}, 20_000);

describe('a device through the emulated cloud', () => {
  let node: E2eNode;

  test('registers: 201, devIncoming', async () => {
    const reg = await device('cloud-dev-1');
    node = reg.node;
    expect(reg.status).toBe(201);
    await eventually(() => expect(eventsOf('cloud-dev-1', 'devIncoming')).toHaveLength(1));
    const record = await api('GET', '/devices/cloud-dev-1');
    expect(record.status).toBe(200);
    expect(record.body).toMatchObject({ clientId: 'cloud-dev-1', status: 'online' });
  }, 30_000);

  test('notifies: 204, the value stored; with the stack default events (infra/settings.ts CLOUD_EVENTS), no devNotify or devChange is published', async () => {
    const rsp = await nodeCall((cb) => node.node.notify({ oid: 'temperature', iid: 0, rid: 'sensorValue', data: 30.5 }, cb));
    expect(rsp.status).toBe(204);
    const objects = await api('GET', '/devices/cloud-dev-1/objects');
    expect((objects.body as Record<string, Record<string, Record<string, unknown>>>)['3303']['0']['5700']).toBe(30.5);
    // The devIncoming of the same device did arrive; the per-notify events are not billed by default.
    expect(eventsOf('cloud-dev-1', 'devIncoming')).toHaveLength(1);
    expect(eventsOf('cloud-dev-1', 'devNotify')).toEqual([]);
    expect(eventsOf('cloud-dev-1', 'devChange')).toEqual([]);
  }, 20_000);

  test('answers a read issued through the API', async () => {
    node.so.write('temperature', 0, 'sensorValue', 22.25, () => undefined);
    const read = await api('POST', '/devices/cloud-dev-1/read', { path: 'temperature/0/sensorValue' });
    expect(read).toEqual({ status: 200, body: { status: 205, data: 22.25 } });
  }, 20_000);

  test('sleeps and wakes: schedule 200 both times, devStatus sleep then online', async () => {
    expect((await nodeCall((cb) => node.node.checkout(60, cb))).status).toBe(200);
    await eventually(async () => expect((await api('GET', '/devices/cloud-dev-1')).body.status).toBe('sleep'));
    expect((await nodeCall((cb) => node.node.checkin(cb))).status).toBe(200);
    await eventually(async () => expect((await api('GET', '/devices/cloud-dev-1')).body.status).toBe('online'));
    await eventually(() => expect(eventsOf('cloud-dev-1', 'devStatus').map((e) => e.data)).toEqual(['online', 'sleep', 'online']));
  }, 20_000);

  test('updates (204, devUpdate) and pings (200)', async () => {
    expect((await nodeCall((cb) => node.node.update({ version: '0.0.2' }, cb))).status).toBe(204);
    await eventually(() => expect(eventsOf('cloud-dev-1', 'devUpdate').map((e) => e.data)).toEqual([{ version: '0.0.2' }]));
    expect((await api('GET', '/devices/cloud-dev-1')).body.version).toBe('0.0.2');
    expect((await nodeCall((cb) => node.node.ping(cb))).status).toBe(200);
  }, 20_000);

  test('its last will (lwt): offline, devStatus offline', async () => {
    await new Promise<void>((resolve, reject) =>
      node.node.mc.publish('lwt/cloud-dev-1', 'offline', {}, (err?: Error) => (err ? reject(err) : resolve())),
    );
    await eventually(async () => expect((await api('GET', '/devices/cloud-dev-1')).body.status).toBe('offline'));
    await eventually(() => expect(eventsOf('cloud-dev-1', 'devStatus').map((e) => e.data)).toContain('offline'));
  }, 20_000);

  test('deregisters: 202, devLeaving, and the API no longer knows it', async () => {
    expect((await nodeCall((cb) => node.node.deregister(cb))).status).toBe(202);
    await eventually(() => expect(eventsOf('cloud-dev-1', 'devLeaving')).toHaveLength(1));
    expect((await api('GET', '/devices/cloud-dev-1')).status).toBe(404);
  }, 20_000);
});

test('a device that stays silent: the API read gets 504 with 408 after the request timeout', async () => {
  const { node, status } = await device('cloud-dev-2');
  expect(status).toBe(201);
  await node.close(); // registered, but nobody answers on request/cloud-dev-2 any more
  const read = await api('POST', '/devices/cloud-dev-2/read', { path: 'temperature/0/sensorValue' });
  expect(read).toMatchObject({ status: 504, body: { status: 408 } });
}, 30_000);

test('a device whose lifetime ends is removed by the scheduled reaper: devLeaving, then 404', async () => {
  const { node, status } = await device('cloud-dev-3', { lifetime: 2 });
  expect(status).toBe(201);
  await node.close(); // no more lifetime updates
  // The schedule (rate(1 minute) in the template) is run on demand here, until the lifetime has passed.
  const reaper = emu.schedules.find((s) => s.target === emu.fn('Reaper'))!;
  await eventually(
    async () => {
      await emu.runSchedule(reaper);
      expect(eventsOf('cloud-dev-3', 'devLeaving')).toHaveLength(1);
    },
    { timeoutMs: 15_000, intervalMs: 500 },
  );
  expect((await api('GET', '/devices/cloud-dev-3')).status).toBe(404);
}, 30_000);

describe('a registration whose reads go unanswered', () => {
  test(
    "gets its 500 within the request timeout plus the deadline queue's two seconds, with no reaper run",
    async () => {
      const id = 'cloud-dev-4';
      const client = await mqtt.connectAsync(emu.broker.url, { clientId: id, reconnectPeriod: 0 });
      clients.push(client);
      const answers: Array<{ at: number; body: any }> = [];
      const reads: unknown[] = [];
      client.on('message', (topic, payload) => {
        if (topic === `register/response/${id}`) answers.push({ at: Date.now(), body: JSON.parse(payload.toString()) });
        else reads.push(JSON.parse(payload.toString()));
      });
      await client.subscribeAsync([`register/response/${id}`, `request/${id}`], { qos: 1 });
      const reaperRuns = emu.fn('Reaper').invocations;
      const deadlineRuns = emu.fn('RegistrationDeadline').invocations;
      const sent = Date.now();
      await client.publishAsync(
        `register/${id}`,
        JSON.stringify({ transId: 41, lifetime: 600, ip: '10.0.0.4', mac: 'AA:BB:CC:00:00:04', objList: { '3303': [0] } }),
        { qos: 1 },
      );
      await eventually(() => expect(reads).toHaveLength(1)); // the server's read, never answered

      // The table stream -> the pipe -> the delay queue -> the registration-deadline function.
      await eventually(() => expect(answers.map((a) => a.body)).toEqual([{ transId: 41, status: 500 }]), {
        timeoutMs: REQUEST_TIMEOUT_MS + 20_000,
      });
      const waited = answers[0].at - sent;
      expect(waited).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
      // The bound that matters: well under the reaper's minute (the queue delays by ceil(timeout) + 2 s).
      expect(waited).toBeLessThan(REQUEST_TIMEOUT_MS + 15_000);
      expect(emu.fn('Reaper').invocations).toBe(reaperRuns);
      expect(emu.fn('RegistrationDeadline').invocations).toBeGreaterThan(deadlineRuns);
    },
    REQUEST_TIMEOUT_MS + 30_000,
  );

  test('the registrations that completed went through the same queue and were left alone', async () => {
    // Every registration above was a new item: one message each, and the deadline function
    // found nothing to fail (the devices kept their 201; no failed invocation).
    const sends = Object.entries(emu.queueSends()).find(([id]) => id.startsWith('RegistrationDeadlines'))![1];
    expect(sends).toBeGreaterThanOrEqual(4);
    await eventually(() => expect(emu.fn('RegistrationDeadline').invocations).toBeGreaterThanOrEqual(sends), { timeoutMs: 20_000 });
    expect(emu.failures).toEqual([]);
  }, 30_000);
});

describe("IAM: every call is checked against the statements of the calling function's role", () => {
  test('a call the role does not allow is refused, as AWS would refuse it', async () => {
    const fn = emu.fn('Register');
    const before = emu.sdkCalls.length;
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: emu.dynamoEndpoint,
      credentials: { accessKeyId: fn.logicalId, secretAccessKey: 'emulated' },
    });
    try {
      await expect(client.send(new ScanCommand({ TableName: emu.tableName }))).rejects.toMatchObject({
        name: 'AccessDeniedException',
      });
      await expect(client.send(new DescribeTableCommand({ TableName: emu.tableName }))).rejects.toMatchObject({
        name: 'AccessDeniedException',
      });
    } finally {
      client.destroy();
    }
    const publish = await fetch(`${emu.iotDataEndpoint}/topics/${encodeURIComponent('register/cloud-dev-9')}?qos=1`, {
      method: 'POST',
      headers: { authorization: `AWS4-HMAC-SHA256 Credential=${fn.logicalId}/20260101/us-east-1/iotdata/aws4_request` },
      body: '{}',
    });
    expect(publish.status).toBe(403);
    // The probes' own calls are kept out of the final check; the other functions' calls made
    // meanwhile (the deadline queue's deletes, for one) stay in it.
    const meanwhile = emu.sdkCalls.splice(before);
    const probes = meanwhile.filter((c) => c.function === fn.logicalId);
    emu.sdkCalls.push(...meanwhile.filter((c) => c.function !== fn.logicalId));
    expect(probes.map((c) => [c.action, c.allowed])).toEqual([
      ['dynamodb:Scan', false],
      ['dynamodb:DescribeTable', false],
      ['iot:Publish', false],
    ]);
  });

  test("the functions' own calls, table, index and topics, were all allowed", () => {
    const calls = emu.sdkCalls;
    expect(calls.length).toBeGreaterThan(0);
    // The checks saw the index queries and the publishes, not only item calls.
    expect(calls.some((c) => c.action === 'dynamodb:Query' && c.resource.endsWith('/index/byExpiry'))).toBe(true);
    expect(calls.some((c) => c.action === 'iot:Publish' && c.resource.endsWith(':topic/request/cloud-dev-1'))).toBe(true);
    expect(new Set(calls.map((c) => c.function))).toEqual(
      new Set([
        ...[
          'Register',
          'Response',
          'Notify',
          'Update',
          'Ping',
          'Lwt',
          'Schedule',
          'Deregister',
          'Api',
          'Reaper',
          'RegistrationDeadline',
        ].map((p) => emu.fn(p).logicalId),
        'RegistrationPipe', // the pipe's role: reading the stream, sending to the queue
      ]),
    );
    expect(emu.deniedCalls()).toEqual([]);
  });
});

test('no invocation failed (no retry, nothing for the failed-messages queue)', () => {
  expect(emu.failures).toEqual([]);
});
