import mqtt, { type MqttClient } from 'mqtt';
import { startStack, type Stack } from '../../local/stack';
import type { Logger } from '../../shared/ports';
import { TestDevice, type ChannelAnswer, type DeviceObjects, type TestDeviceOptions } from './device';
import { startMosquitto, type MosquittoProcess } from './mosquitto';
import { startTestStore, type TestStore } from './recorder';

/**
 * One integration suite's world: a real Mosquitto, an in-memory dynalite, the real stack
 * (bridge, handlers, HTTP API on a random port, reaper) and an MQTT watcher of the event topics.
 */

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg?: string;
}

/** A logger that keeps warn/error entries (to assert on, and to show when a test fails). */
export class CapturingLog implements Logger {
  readonly entries: LogEntry[] = [];
  debug(): void {}
  info(): void {}
  warn(obj: object, msg?: string): void {
    this.entries.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg?: string): void {
    this.entries.push({ level: 'error', obj, msg });
  }
  errors(): LogEntry[] {
    return this.entries.filter((e) => e.level === 'error');
  }
}

export interface ObservedEvent {
  topic: string;
  payload: any;
}

/** Subscribes to `lwmqn/events/#` and keeps every event it sees. */
export class EventWatcher {
  readonly events: ObservedEvent[] = [];
  private readonly listeners = new Set<(e: ObservedEvent) => void>();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      let json: any;
      try {
        json = JSON.parse(payload.toString('utf8'));
      } catch {
        json = { unparsable: payload.toString('utf8') };
      }
      const e = { topic, payload: json };
      this.events.push(e);
      for (const l of [...this.listeners]) l(e);
    });
  }

  static async start(url: string): Promise<EventWatcher> {
    const client = await mqtt.connectAsync(url, { clientId: `events-${process.pid}-${Date.now()}`, reconnectPeriod: 0 });
    await client.subscribeAsync('lwmqn/events/#', { qos: 1 });
    return new EventWatcher(client);
  }

  of(clientId: string, type?: string): ObservedEvent[] {
    return this.events.filter(
      (e) => e.topic.startsWith(`lwmqn/events/${clientId}/`) && (type === undefined || e.topic.endsWith(`/${type}`)),
    );
  }

  /** The first event of `type` for `clientId` (already seen or still to come) that matches. */
  waitFor(
    clientId: string,
    type: string,
    match: (payload: any) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ObservedEvent> {
    const topic = `lwmqn/events/${clientId}/${type}`;
    const hit = (e: ObservedEvent) => e.topic === topic && match(e.payload);
    const seen = this.events.find(hit);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const listener = (e: ObservedEvent) => {
        if (!hit(e)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(e);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no ${type} event for ${clientId} within ${timeoutMs} ms; seen: ${JSON.stringify(this.of(clientId))}`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

export interface HttpAnswer {
  status: number;
  body: any;
}

export interface IntegrationWorld {
  mosquitto: MosquittoProcess;
  store: TestStore;
  stack: Stack;
  events: EventWatcher;
  log: CapturingLog;
  /** GET (or any method) on the stack's HTTP API, body parsed as JSON when it is JSON. */
  http(path: string, init?: RequestInit): Promise<HttpAnswer>;
  /** A connected test device, closed with the world. */
  device(clientId: string, options?: TestDeviceOptions): Promise<TestDevice>;
  close(): Promise<void>;
}

export async function startWorld(env: NodeJS.ProcessEnv = {}): Promise<IntegrationWorld> {
  const mosquitto = await startMosquitto();
  const store = await startTestStore();
  const log = new CapturingLog();
  let stack: Stack | undefined;
  let events: EventWatcher | undefined;
  const devices: TestDevice[] = [];
  const close = async () => {
    await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
    await events?.close().catch(() => undefined);
    await stack?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    await mosquitto.stop();
  };
  try {
    stack = await startStack(
      {
        MQTT_URL: mosquitto.url,
        DYNAMODB_ENDPOINT: store.endpoint,
        TABLE_NAME: 'lwmqn_it',
        HTTP_PORT: '0',
        LWMQN_BRIDGE_ID: `bridge-${process.pid}`,
        // The stack is this store's one writer, as over its embedded store: the device cache is on.
        LWMQN_DEVICE_CACHE: 'on',
        // These tests watch every event type on MQTT (LWMQN_EVENTS unset publishes the lifecycle ones only).
        LWMQN_EVENTS: 'all',
        ...env,
      },
      log,
    );
    events = await EventWatcher.start(mosquitto.url);
  } catch (err) {
    await close();
    throw err;
  }
  const apiUrl = stack.apiUrl;
  return {
    mosquitto,
    store,
    stack,
    events,
    log,
    http: async (path, init) => {
      const res = await fetch(`${apiUrl}${path}`, init);
      const text = await res.text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body };
    },
    device: async (clientId, options) => {
      const d = await TestDevice.connect(mosquitto.url, clientId, options);
      devices.push(d);
      return d;
    },
    close,
  };
}

/** A small device of the shape the reference client has (resource names as keys in reads). */
export function sampleObjects(): DeviceObjects {
  return {
    '1': { '0': { shortServerId: null, lifetime: 600, defaultMinPeriod: 1, defaultMaxPeriod: 60 } },
    '3': { '0': { manuf: 'lwmqn', model: 'MQ1', reboot: '_exec_', hwVer: 'v1' } },
    '3303': { '0': { sensorValue: 21.5, units: 'C' }, '1': { sensorValue: 19, units: 'C' } },
  };
}

/** The same tree as stored by the server: numeric ids only. */
export function sampleObjectsStored(): Record<string, unknown> {
  return {
    '1': { '0': { '0': null, '1': 600, '2': 1, '3': 60 } },
    '3': { '0': { '0': 'lwmqn', '1': 'MQ1', '4': '_exec_', '18': 'v1' } },
    '3303': { '0': { '5700': 21.5, '5701': 'C' }, '1': { '5700': 19, '5701': 'C' } },
  };
}

export function registerPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    lifetime: 600,
    ip: '127.0.0.1',
    mac: 'AA:BB:CC:00:00:01',
    version: '0.0.1',
    objList: { '1': [0], '3': [0], '3303': [0, 1] },
    ...overrides,
  };
}

/** Registers `device` with the sample payload; returns the server's answer. */
export function registerDevice(device: TestDevice, overrides: Record<string, unknown> = {}): Promise<ChannelAnswer> {
  return device.call('register', registerPayload(overrides));
}
