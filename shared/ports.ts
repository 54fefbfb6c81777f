/** The ports every handler gets: nothing in `shared/` or `functions/` knows its runtime. */

export interface Publisher {
  /**
   * Resolves once the broker (or the IoT data plane) took the message. At QoS 1 locally; in the
   * cloud at QoS 0 to devices and QoS 1 for events (`cloudQos`, functions/lambda/runtime.ts).
   */
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

/**
 * What the server counts and times, the same in both runtimes: Prometheus at `GET /metrics`
 * locally (local/prom-metrics.ts), CloudWatch metrics in embedded metric format in the cloud
 * (functions/lambda/emf-metrics.ts).
 */
export interface Metrics {
  /** A channel handler ran (a failed run is retried: the bridge, or Lambda). */
  handled(channel: string, seconds: number, failed: boolean): void;
  /** The server answered a device message on `<channel>/response/<id>` with `status`. */
  answered(channel: string, status: number): void;
  /** One store request. */
  storeCall(operation: string, seconds: number, failed: boolean): void;
  /** A device command ended with the device's status, or without an answer in time. */
  commandEnded(command: string, outcome: number | 'timeout', seconds: number): void;
}
