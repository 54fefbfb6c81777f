/** LWMQN topics (docs/PROTOCOL.md, "Topics"). */

export const CLIENT_CHANNELS = ['register', 'deregister', 'update', 'ping', 'notify', 'schedule', 'lwt', 'response'] as const;
export type ClientChannel = (typeof CLIENT_CHANNELS)[number];

/** Channels whose server answer goes to `<channel>/response/<id>`. */
export const RESPONDING_CHANNELS = ['register', 'deregister', 'update', 'ping', 'notify', 'schedule'] as const;
export type RespondingChannel = (typeof RESPONDING_CHANNELS)[number];

export function isRespondingChannel(channel: string): channel is RespondingChannel {
  return (RESPONDING_CHANNELS as readonly string[]).includes(channel);
}

export const ANNOUNCE_TOPIC = 'announce';
export const SERVER_SUBSCRIPTIONS: readonly string[] = CLIENT_CHANNELS.map((c) => `${c}/+`);

export const MAX_CLIENT_ID_LENGTH = 128;
// Besides the MQTT wildcards and the level separator, control characters are refused: they
// have no business in an identity and make logs and topics ambiguous.
const FORBIDDEN_IN_CLIENT_ID = /[/+#\u0000-\u001f\u007f]/;

export function isValidClientId(id: string): boolean {
  return id.length >= 1 && id.length <= MAX_CLIENT_ID_LENGTH && !FORBIDDEN_IN_CLIENT_ID.test(id);
}

export function isClientChannel(name: string): name is ClientChannel {
  return (CLIENT_CHANNELS as readonly string[]).includes(name);
}

export interface ParsedTopic {
  channel: ClientChannel;
  clientId: string;
}

/** `<channel>/<clientId>` with exactly two levels; anything else is not ours. */
export function parseClientTopic(topic: string): ParsedTopic | null {
  const slash = topic.indexOf('/');
  if (slash <= 0) return null;
  const channel = topic.slice(0, slash);
  const clientId = topic.slice(slash + 1);
  if (!isClientChannel(channel) || !isValidClientId(clientId)) return null;
  return { channel, clientId };
}

export const responseTopic = (channel: RespondingChannel, clientId: string): string => `${channel}/response/${clientId}`;
export const requestTopic = (clientId: string): string => `request/${clientId}`;
export const EVENTS_TOPIC_PREFIX = 'lwmqn/events/';
export const eventTopic = (clientId: string, type: string): string => `${EVENTS_TOPIC_PREFIX}${clientId}/${type}`;
