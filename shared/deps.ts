import type { ServerConfig } from './config';
import type { Clock, EventSink, Logger, Metrics, Publisher } from './ports';
import type { PendingCommands } from './store/commands';
import type { DeviceStore } from './store/devices';
import type { RegistrationStore } from './store/registrations';
import type { SettingsStore } from './store/settings';

/**
 * Everything a handler needs, every field required: each runtime's composition root builds all
 * of them (functions/lambda/runtime.ts, local/stack.ts), and what differs between the runtimes
 * differs only in which implementation a port gets.
 */
export interface Deps {
  devices: DeviceStore;
  /** Registrations waiting for their object reads: the table in the cloud, memory locally. */
  registrations: RegistrationStore;
  /** Device commands waiting for their answer: the table in the cloud, memory locally. */
  commands: PendingCommands;
  settings: SettingsStore;
  publisher: Publisher;
  events: EventSink;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  config: ServerConfig;
}

/** The message a channel handler receives from either runtime (docs/PROTOCOL.md, "Handler input"). */
export interface ChannelMessage {
  topic: string;
  /** base64 of the raw payload bytes */
  payload: string;
  mqttClientId?: string;
  receivedAt: number;
}
