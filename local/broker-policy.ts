import { CLIENT_CHANNELS, RESPONDING_CHANNELS, ANNOUNCE_TOPIC, isValidClientId } from '../shared/protocol/topics';

/**
 * Who may do what on the embedded broker: the rules of local/mosquitto/acl, as functions.
 * A connection has one role, fixed at CONNECT (local/embedded-broker.ts decides it).
 */
export type Role =
  | { kind: 'bridge' }
  /** A device: `id` is its MQTT client id, which is its LWMQN clientId. */
  | { kind: 'device'; id: string }
  /** An application account: reads the events, publishes nothing. */
  | { kind: 'app'; id: string };

/** The bridge's client id unless LWMQN_BRIDGE_ID says otherwise; never a device's. */
export const DEFAULT_BRIDGE_ID = 'lwmqn-bridge';

const EVENTS_PREFIX = 'lwmqn/events/';

/** A device publishes only on its own client channels: `<channel>/<its id>`. */
export function mayPublish(role: Role, topic: string): boolean {
  if (role.kind === 'bridge') return true;
  if (role.kind === 'app') return false;
  const slash = topic.indexOf('/');
  if (slash <= 0) return false;
  return topic.slice(slash + 1) === role.id && (CLIENT_CHANNELS as readonly string[]).includes(topic.slice(0, slash));
}

/** What a device may receive: its own answers, its own requests and the broadcast. */
export function deviceReadable(id: string): Set<string> {
  return new Set([...RESPONDING_CHANNELS.map((c) => `${c}/response/${id}`), `request/${id}`, ANNOUNCE_TOPIC]);
}

/** May `role` receive a message on `topic` (a concrete topic, no wildcards)? */
export function mayRead(role: Role, topic: string, readable?: Set<string>): boolean {
  if (role.kind === 'bridge') return true;
  if (role.kind === 'app') return topic.startsWith(EVENTS_PREFIX) && topic.length > EVENTS_PREFIX.length;
  return (readable ?? deviceReadable(role.id)).has(topic);
}

/**
 * May `role` subscribe to `filter`? Only when every topic the filter can match is readable:
 * a device names its own topics one by one (no wildcard at all: `#`, `+/response/+` or
 * `request/+` would match other devices' traffic), an application may use wildcards below
 * `lwmqn/events/` only. Everything else is refused (SUBACK 0x80), not granted-then-filtered,
 * so a client sees at once that it asked for something it will never get.
 */
export function maySubscribe(role: Role, filter: string): boolean {
  if (role.kind === 'bridge') return true;
  if (role.kind === 'app') {
    return filter.startsWith(EVENTS_PREFIX) && filter.length > EVENTS_PREFIX.length && !filter.startsWith('$');
  }
  if (/[+#]/.test(filter)) return false;
  return deviceReadable(role.id).has(filter);
}

/** Why a client id cannot connect, or undefined when it may. */
export function clientIdProblem(id: string | undefined): string | undefined {
  if (id === undefined || id === '') return "an empty client id (the client id is the device's LWMQN clientId)";
  if (!isValidClientId(id)) return 'not a valid LWMQN clientId (1 to 128 characters, no / + # or control characters)';
  return undefined;
}
