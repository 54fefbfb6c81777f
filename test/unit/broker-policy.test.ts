import { clientIdProblem, mayPublish, mayRead, maySubscribe, type Role } from '../../local/broker-policy';
import { CLIENT_CHANNELS, RESPONDING_CHANNELS } from '../../shared/protocol/topics';

/** The embedded broker's rules (local/broker-policy.ts), as local/mosquitto/acl states them. */

const devA: Role = { kind: 'device', id: 'dev-a' };
const app: Role = { kind: 'app', id: 'dash' };
const bridge: Role = { kind: 'bridge' };

test('a device publishes on its own client channels only', () => {
  for (const c of CLIENT_CHANNELS) {
    expect(mayPublish(devA, `${c}/dev-a`)).toBe(true);
    expect(mayPublish(devA, `${c}/dev-b`)).toBe(false);
    expect(mayPublish(devA, `${c}/dev-a/x`)).toBe(false);
  }
  for (const t of [
    'announce',
    'request/dev-a',
    'register/response/dev-a',
    'lwmqn/events/dev-a/devNotify',
    '$SYS/x',
    'dev-a',
    'other/dev-a',
    '/dev-a',
  ]) {
    expect({ t, ok: mayPublish(devA, t) }).toEqual({ t, ok: false });
  }
  expect(mayPublish(app, 'lwmqn/events/x/devNotify')).toBe(false);
  expect(mayPublish(bridge, 'request/dev-a')).toBe(true);
});

test('a device subscribes to its own topics named one by one; an app below lwmqn/events/ only', () => {
  const own = [...RESPONDING_CHANNELS.map((c) => `${c}/response/dev-a`), 'request/dev-a', 'announce'];
  for (const f of own) expect(maySubscribe(devA, f)).toBe(true);
  for (const f of [
    '#',
    '+',
    '+/+',
    '+/response/+',
    '+/response/dev-a',
    'request/+',
    'request/dev-b',
    'notify/dev-a',
    'response/dev-a',
    'lwmqn/events/#',
    '$SYS/#',
    'request/#',
  ]) {
    expect({ f, ok: maySubscribe(devA, f) }).toEqual({ f, ok: false });
  }
  for (const f of ['lwmqn/events/#', 'lwmqn/events/dev-a/#', 'lwmqn/events/+/devNotify']) expect(maySubscribe(app, f)).toBe(true);
  for (const f of ['#', 'lwmqn/#', 'lwmqn/+/#', 'lwmqn/events/', 'announce', 'request/+'])
    expect({ f, ok: maySubscribe(app, f) }).toEqual({ f, ok: false });
  expect(maySubscribe(bridge, 'notify/+')).toBe(true);
});

test('deliveries are checked against the same lists', () => {
  expect(mayRead(devA, 'request/dev-a')).toBe(true);
  expect(mayRead(devA, 'request/dev-b')).toBe(false);
  expect(mayRead(devA, 'lwmqn/events/dev-a/devNotify')).toBe(false);
  expect(mayRead(app, 'lwmqn/events/dev-a/devNotify')).toBe(true);
  expect(mayRead(app, 'request/dev-a')).toBe(false);
  expect(mayRead(bridge, 'notify/dev-a')).toBe(true);
});

test('client ids that are no LWMQN clientId are refused', () => {
  for (const id of [undefined, '', 'a/b', 'a+b', 'a#', 'x'.repeat(129), 'a\u0000b']) expect(clientIdProblem(id)).toBeDefined();
  for (const id of ['dev-a', 'x'.repeat(128), 'a:b', 'ü']) expect(clientIdProblem(id)).toBeUndefined();
});
