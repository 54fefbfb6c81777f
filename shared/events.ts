import { eventTopic } from './protocol/topics';
import { EVENT_TYPES, type EventSink, type EventType, type LwmqnEvent, type Publisher } from './ports';

/**
 * Which event types are published on MQTT, from `LWMQN_EVENTS`: `all` (the default), `none`, or
 * a comma-separated list of types. In the cloud each published event is a billed IoT Core
 * message even when nobody subscribes (docs/DEPLOY.md, "What a million notifications cost").
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
  if (words.length === 0 || (words.length === 1 && words[0] === 'all')) return new Set(EVENT_TYPES);
  if (words.length === 1 && words[0] === 'none') return new Set();
  const unknown = words.filter((w) => !(EVENT_TYPES as readonly string[]).includes(w));
  if (unknown.length > 0) {
    throw new Error(`${setting}: unknown event type ${unknown.join(', ')}; use all, none or a list of ${EVENT_TYPES.join(', ')}`);
  }
  return new Set(words as EventType[]);
}

/** Events go out on `lwmqn/events/<clientId>/<type>` (docs/PROTOCOL.md, "Events"), the chosen types only. */
export function mqttEventSink(publisher: Publisher, types: ReadonlySet<EventType> = new Set(EVENT_TYPES)): EventSink {
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
