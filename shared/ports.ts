/** The ports every handler gets: nothing in `shared/` or `functions/` knows its runtime. */

export interface Publisher {
  /** Publishes at QoS 1; resolves once the broker (or the IoT data plane) took the message. */
  publish(topic: string, payload: string): Promise<void>;
}

export const EVENT_TYPES = ['devIncoming', 'devLeaving', 'devUpdate', 'devNotify', 'devChange', 'devStatus'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface LwmqnEvent {
  type: EventType;
  clientId: string;
  data: unknown;
  timestamp: number;
}

export interface EventSink {
  emit(event: LwmqnEvent): Promise<void>;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The subset of pino's logger the domain uses, so tests can pass anything shaped like it. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const systemClock: Clock = { now: () => Date.now() };
