import type { Deps } from '../deps';
import type { EventType } from '../ports';
import { responseTopic, type RespondingChannel } from '../protocol/topics';

/** The server's answer to a device message, on `<channel>/response/<clientId>`. */
export function respond(deps: Deps, channel: RespondingChannel, clientId: string, transId: number, status: number): Promise<void> {
  deps.metrics.answered(channel, status);
  return deps.publisher.publish(responseTopic(channel, clientId), JSON.stringify({ transId, status }));
}

/** An event for applications (docs/PROTOCOL.md, "Events"). */
export function emitEvent(deps: Deps, type: EventType, clientId: string, data: unknown): Promise<void> {
  return deps.events.emit({ type, clientId, data, timestamp: deps.clock.now() });
}
