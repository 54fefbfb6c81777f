import mqtt, { type MqttClient } from 'mqtt';

/** A simulated device: the real `mqtt-node` client, or a light built-in one for thousands. */
export interface BenchDevice {
  clientId: string;
  /** Whatever the client does before it can register, untimed (mqtt-node: its network look-up; light: connect and subscribe). */
  prepare(): Promise<void>;
  /** Connects and registers; resolves with the register status. */
  register(): Promise<number>;
  /** One notify on temperature/0/sensorValue; resolves with its status once answered. */
  notify(value: number): Promise<number>;
  /** Deregisters; resolves with the status (0 when unanswered). The connection ends after. */
  deregister(): Promise<number>;
  close(): void;
}

export type ClientKind = 'mqtt-node' | 'light';

export function makeDevice(kind: ClientKind, clientId: string, url: string): BenchDevice {
  return kind === 'mqtt-node' ? new MqttNodeDevice(clientId, url) : new LightDevice(clientId, url);
}

/** A node-style callback of mqtt-node's, with the server's answer. */
type StatusCallback = (err: Error | null, rsp: { status: number }) => void;

/** The part of `mqtt-node`'s client (an untyped package) the bench drives. */
interface MqttNodeClient {
  once(event: 'ready', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  connect(url: string, opts: { reconnectPeriod: number }, cb: StatusCallback): void;
  notify(note: { oid: number; iid: number; rid: number; data: unknown }, cb: StatusCallback): void;
  deregister(cb: StatusCallback): void;
  /** Its MQTT.js client, once connected. */
  mc?: { end(force: boolean): void } | null;
}

type MqttNodeConstructor = new (clientId: string, so: SmartObjectLike, opts: { lifetime: number }) => MqttNodeClient;

/** The part of `smartobject` (untyped) the bench uses. */
interface SmartObjectLike {
  init(oid: string, iid: number, resources: Record<string, unknown>): void;
}

class MqttNodeDevice implements BenchDevice {
  private readonly node: MqttNodeClient;
  /** mqtt-node learns the host's ip and mac asynchronously; registering before would send nulls. */
  private readonly ready: Promise<void>;
  constructor(
    readonly clientId: string,
    private readonly url: string,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const MqttNode = require('mqtt-node') as MqttNodeConstructor;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const SmartObject = require('smartobject') as new () => SmartObjectLike;
    const so = new SmartObject();
    so.init('temperature', 0, { sensorValue: 21.5, units: 'C' });
    this.node = new MqttNode(clientId, so, { lifetime: 3600 });
    this.ready = new Promise((resolve) => this.node.once('ready', () => resolve()));
    this.node.on('error', () => undefined);
  }
  prepare(): Promise<void> {
    return this.ready;
  }
  async register(): Promise<number> {
    await this.ready;
    return withTimeout((done) => this.node.connect(this.url, { reconnectPeriod: 0 }, (err, rsp) => done(err ? 0 : rsp.status)));
  }
  notify(value: number): Promise<number> {
    return withTimeout((done) =>
      this.node.notify({ oid: 3303, iid: 0, rid: 5700, data: value }, (err, rsp) => done(err ? 0 : rsp.status)),
    );
  }
  deregister(): Promise<number> {
    return withTimeout((done) => this.node.deregister((err, rsp) => done(err ? 0 : rsp.status)));
  }
  close(): void {
    this.node.mc?.end(true);
  }
}

/** No answer in a minute counts as a failure (status 0), so a run always ends with figures. */
const CALL_TIMEOUT_MS = 60_000;

function withTimeout(start: (done: (status: number) => void) => void): Promise<number> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(0), CALL_TIMEOUT_MS);
    start((status) => {
      clearTimeout(timer);
      resolve(status);
    });
  });
}

const TREE: Record<string, unknown> = {
  1: { 0: { shortServerId: null, lifetime: 3600, defaultMinPeriod: 1, defaultMaxPeriod: 60 } },
  3303: { 0: { sensorValue: 21.5, units: 'C' } },
};

/** The protocol by hand over MQTT.js: one connection, no smart-object machinery. */
class LightDevice implements BenchDevice {
  private client?: MqttClient;
  private transId = 0;
  private readonly pending = new Map<string, (status: number) => void>();
  constructor(
    readonly clientId: string,
    private readonly url: string,
  ) {}

  /** Connected and subscribed before the clock starts: the burst measures registrations, not TCP. */
  async prepare(): Promise<void> {
    const id = this.clientId;
    this.client = await mqtt.connectAsync(this.url, { clientId: id, clean: true, reconnectPeriod: 0, connectTimeout: 60_000 });
    this.client.on('message', (topic, payload) => this.onMessage(topic, payload));
    await this.client.subscribeAsync(
      [`register/response/${id}`, `notify/response/${id}`, `deregister/response/${id}`, `request/${id}`],
      { qos: 1 },
    );
  }

  async register(): Promise<number> {
    return this.call('register', {
      lifetime: 3600,
      ip: '127.0.0.1',
      mac: '02:00:00:00:00:01',
      version: '0.0.1',
      objList: { 1: [0], 3303: [0] },
    });
  }

  notify(value: number): Promise<number> {
    return this.call('notify', { oid: 3303, iid: 0, rid: 5700, data: value });
  }

  deregister(): Promise<number> {
    return this.call('deregister', {});
  }

  private call(channel: string, body: Record<string, unknown>): Promise<number> {
    const transId = ++this.transId;
    const key = `${channel}/${transId}`;
    return withTimeout((done) => {
      this.pending.set(key, done);
      this.client!.publish(`${channel}/${this.clientId}`, JSON.stringify({ transId, ...body }), { qos: 1 });
    }).finally(() => this.pending.delete(key));
  }

  private onMessage(topic: string, payload: Buffer): void {
    const msg = JSON.parse(payload.toString()) as { transId: number; cmdId?: number; oid?: number; status: number };
    if (topic.startsWith('request/')) {
      const data = msg.cmdId === 0 ? TREE[String(msg.oid)] : undefined;
      const answer = data
        ? { transId: msg.transId, cmdId: msg.cmdId, status: 205, data }
        : { transId: msg.transId, cmdId: msg.cmdId, status: 404 };
      this.client!.publish(`response/${this.clientId}`, JSON.stringify(answer), { qos: 1 });
      return;
    }
    const key = `${topic.split('/')[0]}/${msg.transId}`;
    const settle = this.pending.get(key);
    this.pending.delete(key);
    settle?.(msg.status);
  }

  close(): void {
    this.client?.end(true);
  }
}
