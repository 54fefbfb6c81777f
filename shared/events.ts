import { eventTopic } from './protocol/topics';
import { EVENT_TYPES, type EventSink, type EventType, type LwmqnEvent, type Publisher } from './ports';

/**
 * What is published on MQTT when `LWMQN_EVENTS` is unset, in both runtimes: the lifecycle events,
 * which come once per registration, update, departure or status change. Not devNotify and
 * devChange: they come with every notify and would double or triple the messages a notify costs,
 * whether or not anyone subscribes: in the cloud $2.00 per million notifies (docs/DEPLOY.md,
 * "What a million notifications cost"), locally a third of the server's CPU per notify
 * (docs/PERFORMANCE.md). `LWMQN_EVENTS=all` brings them back; the local stream behind
 * GET /events carries every type anyway.
 */
export const DEFAULT_EVENT_TYPES: readonly EventType[] = ['devIncoming', 'devLeaving', 'devUpdate', 'devStatus'];

/**
 * Which event types are published on MQTT, from `LWMQN_EVENTS`: `all`, `none`, or a
 * comma-separated list of types; unset or empty, DEFAULT_EVENT_TYPES.
 * A name that is not an event type stops the server: it never runs with a filter it misread.
 */
export function eventTypesFromEnv(env: NodeJS.ProcessEnv): ReadonlySet<EventType> {
  return parseEventTypes(env.LWMQN_EVENTS, 'LWMQN_EVENTS');
}

export function parseEventTypes(raw: string | undefined, setting: string): ReadonlySet<EventType> {
  const words = (raw ?? '')
    .split(',')
    .map((w) => w.trim())
    .filter((w) => w !== '');
  if (words.length === 0) return new Set(DEFAULT_EVENT_TYPES);
  if (words.length === 1 && words[0] === 'all') return new Set(EVENT_TYPES);
  if (words.length === 1 && words[0] === 'none') return new Set();
  const unknown = words.filter((w) => !(EVENT_TYPES as readonly string[]).includes(w));
  if (unknown.length > 0) {
    throw new Error(`${setting}: unknown event type ${unknown.join(', ')}; use all, none or a list of ${EVENT_TYPES.join(', ')}`);
  }
  return new Set(words as EventType[]);
}

/** Events go out on `lwmqn/events/<clientId>/<type>` (docs/PROTOCOL.md, "Events"), the chosen types only. */
export function mqttEventSink(publisher: Publisher, types: ReadonlySet<EventType>): EventSink {
  return {
    emit: async (event: LwmqnEvent) => {
      if (types.has(event.type)) await publisher.publish(eventTopic(event.clientId, event.type), JSON.stringify(event));
    },
  };
}

/** Fans one event out to several sinks (MQTT topic plus, locally, the SSE stream). */
export function fanOutEventSink(...sinks: EventSink[]): EventSink {
  return { emit: async (event) => void (await Promise.all(sinks.map((s) => s.emit(event)))) };
}
