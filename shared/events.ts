import { eventTopic } from './protocol/topics';
import type { EventSink, LwmqnEvent, Publisher } from './ports';

/** Events go out on `lwmqn/events/<clientId>/<type>` (docs/PROTOCOL.md, "Events"). */
export function mqttEventSink(publisher: Publisher): EventSink {
  return {
    emit: (event: LwmqnEvent) => publisher.publish(eventTopic(event.clientId, event.type), JSON.stringify(event)),
  };
}

/** Fans one event out to several sinks (MQTT topic plus, locally, the SSE stream). */
export function fanOutEventSink(...sinks: EventSink[]): EventSink {
  return { emit: async (event) => void (await Promise.all(sinks.map((s) => s.emit(event)))) };
}
