import type { ServerConfig } from './config';
import type { Clock, EventSink, EventType, Logger, Publisher } from './ports';
import type { RegistryStore } from './store/registry';
import type { CommandWaiters } from './ops/commands';
import type { DiscoveryStore } from './ops/discoveries';
import { responseTopic, type RespondingChannel } from './protocol/topics';

/** Everything a handler needs, built by the runtime (bridge or Lambda) and passed in. */
export interface Deps {
  store: RegistryStore;
  publisher: Publisher;
  events: EventSink;
  clock: Clock;
  log: Logger;
  config: ServerConfig;
  /** In-process rendezvous for device commands, when the API shares the process (local stack). */
  waiters?: CommandWaiters;
  /** Registrations in progress, when not in the table (the local stack keeps them in memory). */
  discoveries?: DiscoveryStore;
}

/** The message a channel handler receives from either runtime (DESIGN.md). */
export interface ChannelMessage {
  topic: string;
  /** base64 of the raw payload bytes */
  payload: string;
  mqttClientId?: string;
  receivedAt: number;
}

export function respond(
  deps: Deps,
  channel: RespondingChannel,
  clientId: string,
  transId: number,
  status: number,
): Promise<void> {
  return deps.publisher.publish(responseTopic(channel, clientId), JSON.stringify({ transId, status }));
}

export function emitEvent(deps: Deps, type: EventType, clientId: string, data: unknown): Promise<void> {
  return deps.events.emit({ type, clientId, data, timestamp: deps.clock.now() });
}
