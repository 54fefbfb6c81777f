import { http, nodeCall, startWorld, type E2eNode, type E2eWorld } from '../helpers/mqtt-node';
import { eventually } from '../helpers/poll';

/** `GET /metrics`: Prometheus text of what the running stack did, behind the API token. */
let world: E2eWorld;
let dev: E2eNode;
const ID = 'met-1';
const TOKEN = 'metrics-secret';

beforeAll(async () => {
  world = await startWorld({ LWMQN_API_TOKEN: TOKEN, LWMQN_REQUEST_TIMEOUT_MS: '2000' });
  dev = await world.node(ID);
});
afterAll(async () => world?.close());
jest.setTimeout(60_000);

const auth = { authorization: `Bearer ${TOKEN}` };

/** The value of one sample line, e.g. `lwmqn_answers_total{channel="register",status="201"}`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text
    .split('\n')
    .find((l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{') && want.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('without the token /metrics is refused, like every route but /health', async () => {
  expect((await http(world.stack.apiUrl, 'GET', '/metrics')).status).toBe(401);
});

test('counts and times what the stack did: messages, answers, store calls, commands, devices by status', async () => {
  expect((await nodeCall((cb) => dev.node.notify({ oid: 3303, iid: 0, rid: 5700, data: 30 }, cb))).status).toBe(204);
  const read = await http(world.stack.apiUrl, 'POST', `/devices/${ID}/read`, { path: '3303/0/5700' }, auth);
  expect(read.body.status).toBe(205);
  const res = await fetch(`${world.stack.apiUrl}/metrics`, { headers: auth });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  expect(sample(text, 'lwmqn_answers_total', { channel: 'register', status: '201' })).toBe(1);
  expect(sample(text, 'lwmqn_answers_total', { channel: 'notify', status: '204' })).toBe(1);
  expect(sample(text, 'lwmqn_messages_total', { channel: 'notify', outcome: 'ok' })).toBe(1);
  expect(sample(text, 'lwmqn_messages_total', { channel: 'response', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
  expect(sample(text, 'lwmqn_handler_seconds_count', { channel: 'notify' })).toBe(1);
  expect(sample(text, 'lwmqn_store_call_seconds_count', { operation: 'UpdateItem' })).toBeGreaterThanOrEqual(1);
  expect(sample(text, 'lwmqn_commands_total', { command: 'read', outcome: '205' })).toBe(1);
  expect(sample(text, 'lwmqn_command_seconds_count', { command: 'read' })).toBe(1);
  expect(sample(text, 'lwmqn_devices', { status: 'online' })).toBe(1);
  expect(sample(text, 'lwmqn_devices', { status: 'offline' })).toBe(0);
  // The bridge's backlog drains once the last acknowledgement has gone out.
  await eventually(async () => {
    const now = await (await fetch(`${world.stack.apiUrl}/metrics`, { headers: auth })).text();
    expect(sample(now, 'lwmqn_bridge_backlog')).toBe(0);
  });
  expect(sample(text, 'lwmqn_process_resident_memory_bytes')).toBeGreaterThan(0);
});

test('a command the device leaves unanswered counts as a timeout', async () => {
  await dev.close();
  const answer = await http(world.stack.apiUrl, 'POST', `/devices/${ID}/ping`, undefined, auth);
  expect(answer.status).toBe(504);
  const text = await (await fetch(`${world.stack.apiUrl}/metrics`, { headers: auth })).text();
  expect(sample(text, 'lwmqn_commands_total', { command: 'ping', outcome: 'timeout' })).toBe(1);
});
