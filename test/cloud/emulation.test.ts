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

const REQUEST_TIMEOUT_MS = 3000;

let emu: CloudEmulation;
let events: Observer;
const nodes: E2eNode[] = [];

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

test('the assembly holds what the emulation runs: ten bundled functions, eight rules, the API route, the reaper schedule', () => {
  expect(emu.functions.size).toBe(10);
  const reaper = emu.schedules.find((s) => s.target === emu.fn('Reaper'));
  expect(reaper?.expression).toBe('rate(1 minute)');
  expect(reaper?.periodMs).toBe(60_000);
});

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

  test('notifies: 204 and devChange', async () => {
    const rsp = await nodeCall((cb) => node.node.notify({ oid: 'temperature', iid: 0, rid: 'sensorValue', data: 30.5 }, cb));
    expect(rsp.status).toBe(204);
    await eventually(() =>
      expect(eventsOf('cloud-dev-1', 'devChange').map((e) => e.data)).toContainEqual(expect.objectContaining({ data: 30.5 })),
    );
  }, 20_000);

  test('answers a read issued through the API', async () => {
    node.so.write('temperature', 0, 'sensorValue', 22.25, () => undefined);
    const read = await api('POST', '/devices/cloud-dev-1/read', { path: 'temperature/0/sensorValue' });
    expect(read).toEqual({ status: 200, body: { status: 205, data: 22.25 } });
  }, 20_000);
});

test('every SDK call the functions made was allowed by their roles', () => {
  expect(emu.sdkCalls.length).toBeGreaterThan(0);
  expect(emu.deniedCalls()).toEqual([]);
  expect(emu.failures).toEqual([]);
});
