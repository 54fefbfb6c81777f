import { startStack, type Stack } from '../../local/stack';
import type { LwmqnEvent } from '../../shared/ports';
import { startMosquitto, type MosquittoProcess } from './mosquitto';
import { silentLog, startTestStore, type TestStore } from './recorder';

/**
 * End-to-end fixtures: a real `mqtt-node` 0.7 device (the npm LWMQN client, with `smartobject`)
 * against the real local stack (Mosquitto process, dynalite, bridge, HTTP API).
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports
const MqttNode = require('mqtt-node');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const SmartObject = require('smartobject');

export interface RawMessage {
  topic: string;
  payload: string;
}

export interface E2eNode {
  clientId: string;
  /** The mqtt-node instance. */
  node: any;
  /** Its smartobject. */
  so: any;
  /** Every MQTT message the device received, in order. */
  received: RawMessage[];
  /** The payloads of `announce` as mqtt-node hands them to the application. */
  announcements: unknown[];
  /** The argument lists the answering executable (device/0/factoryReset) was called with. */
  executed: unknown[][];
  /** Connects and registers; resolves with the register answer (201/200). `options` go to MQTT.js (an account). */
  connect(url: string, options?: Record<string, unknown>): Promise<{ status: number }>;
  /** Waits for a received message on `topic` whose payload passes `match`. */
  waitForMessage(topic: string, match?: (payload: string) => boolean, timeoutMs?: number): Promise<RawMessage>;
  close(): Promise<void>;
}

/**
 * A device with, besides mqtt-node's own objects: temperature/0 (sensorValue is read-only in
 * IPSO), lightCtrl/0 (onOff 3311/0/5850 is read-write), and device/0 whose `reboot` (3/0/4)
 * never answers an execute (as mqtt-node's default; `rebootAnswers` makes it answer) while
 * `factoryReset` (3/0/5) answers.
 */
export function makeNode(clientId: string, opts: { lifetime?: number; rebootAnswers?: boolean } = {}): E2eNode {
  const so = new SmartObject();
  const executed: unknown[][] = [];
  so.init('temperature', 0, { sensorValue: 21.5, units: 'C' });
  so.init('lightCtrl', 0, { onOff: false });
  so.init('device', 0, {
    manuf: 'lwmqn',
    model: 'MQ1',
    reboot: {
      exec: opts.rebootAnswers
        ? (...args: unknown[]) => (args.pop() as (err: Error | null, data?: unknown) => void)(null, { rebooted: true })
        : function () {},
    },
    factoryReset: {
      exec: (...args: unknown[]) => {
        const cb = args.pop() as (err: Error | null, data?: unknown) => void;
        executed.push(args);
        cb(null, { reset: true, args });
      },
    },
    devType: 'generic',
  });
  const node = new MqttNode(clientId, so, { lifetime: opts.lifetime ?? 600, ip: '127.0.0.1', version: '0.0.1' });
  // mqtt-node learns the host's mac asynchronously and says 'ready' when it has it.
  const ready = new Promise<void>((resolve) => node.once('ready', () => resolve()));
  node.on('error', () => undefined);

  const received: RawMessage[] = [];
  const announcements: unknown[] = [];
  const waiters = new Set<(m: RawMessage) => void>();
  node.on('raw', (topic: string, message: Buffer | string) => {
    const m = { topic, payload: Buffer.isBuffer(message) ? message.toString('utf8') : String(message) };
    received.push(m);
    for (const w of [...waiters]) w(m);
  });
  node.on('announce', (msg: unknown) => announcements.push(msg));

  return {
    clientId,
    node,
    so,
    received,
    announcements,
    executed,
    connect: async (url, options = {}) => {
      await ready;
      return new Promise((resolve, reject) =>
        node.connect(url, { reconnectPeriod: 0, ...options }, (err: Error | null, rsp: { status: number }) =>
          err ? reject(err) : resolve(rsp),
        ),
      );
    },
    waitForMessage: (topic, match = () => true, timeoutMs = 10_000) => {
      const hit = (m: RawMessage) => m.topic === topic && match(m.payload);
      const seen = received.find(hit);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = (m: RawMessage) => {
          if (!hit(m)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${clientId} received nothing on ${topic} in ${timeoutMs} ms; got ${JSON.stringify(received)}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close: async () => {
      node._lifeUpdate?.(false); // its lifetime-update timer
      for (const key of Object.keys(node._reporters ?? {})) {
        const r = node._reporters[key];
        clearTimeout(r?.min);
        clearInterval(r?.max);
      }
      if (!node.mc) return;
      await new Promise<void>((resolve) => node.close(true, () => resolve()));
    },
  };
}

/** Calls a node-style `(err, rsp)` mqtt-node method as a promise. */
export function nodeCall<T = { status: number }>(fn: (cb: (err: Error | null, rsp: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, rsp) => (err ? reject(err) : resolve(rsp))));
}

export interface HttpAnswer {
  status: number;
  body: any;
}

/** One HTTP call; a string body is sent as it is (to send what is not JSON), anything else as JSON. */
export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

/** Keeps every event the stack emits (through its in-process bus, the one behind GET /events). */
export class EventLog {
  readonly events: LwmqnEvent[] = [];
  private readonly listeners = new Set<(e: LwmqnEvent) => void>();
  private readonly off: () => void;

  constructor(stack: Stack) {
    this.off = stack.bus.subscribe((e) => {
      this.events.push(e);
      for (const l of [...this.listeners]) l(e);
    });
  }

  of(clientId: string, type?: string): LwmqnEvent[] {
    return this.events.filter((e) => e.clientId === clientId && (type === undefined || e.type === type));
  }

  /** The first event (seen already or still to come) of `type` for `clientId` that matches. */
  waitFor(clientId: string, type: string, match: (e: LwmqnEvent) => boolean = () => true, timeoutMs = 10_000): Promise<LwmqnEvent> {
    const hit = (e: LwmqnEvent) => e.clientId === clientId && e.type === type && match(e);
    const seen = this.events.find(hit);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const listener = (e: LwmqnEvent) => {
        if (!hit(e)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(e);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no ${type} for ${clientId} in ${timeoutMs} ms; seen ${JSON.stringify(this.of(clientId))}`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  close(): void {
    this.off();
  }
}

export interface E2eWorld {
  broker: MosquittoProcess;
  store: TestStore;
  stack: Stack;
  nodes: E2eNode[];
  /** A registered device, closed with the world. */
  node(clientId: string): Promise<E2eNode>;
  close(): Promise<void>;
}

let worlds = 0;

/** Mosquitto + dynalite + the real stack (HTTP API on a free port), with its own table. */
export async function startWorld(env: NodeJS.ProcessEnv = {}): Promise<E2eWorld> {
  const broker = await startMosquitto();
  const store = await startTestStore();
  const nodes: E2eNode[] = [];
  let stack: Stack | undefined;
  const close = async () => {
    await Promise.all(nodes.map((n) => n.close().catch(() => undefined)));
    await stack?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    await broker.stop();
  };
  try {
    stack = await startStack(
      {
        MQTT_URL: broker.url,
        DYNAMODB_ENDPOINT: store.endpoint,
        TABLE_NAME: `lwmqn_e2e_${process.pid}_${++worlds}`,
        HTTP_PORT: '0',
        LWMQN_BRIDGE_ID: `e2e-bridge-${process.pid}-${worlds}`,
        // The stack is this store's one writer, as over its embedded store: the device cache is on.
        LWMQN_DEVICE_CACHE: 'on',
        ...env,
      },
      silentLog,
    );
  } catch (err) {
    await close();
    throw err;
  }
  const s = stack;
  return {
    broker,
    store,
    stack: s,
    nodes,
    node: async (clientId) => {
      const n = makeNode(clientId);
      nodes.push(n);
      const rsp = await n.connect(broker.url);
      if (rsp.status !== 201 && rsp.status !== 200) throw new Error(`${clientId} registered with ${rsp.status}`);
      return n;
    },
    close,
  };
}
