import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * A raw LWMQN test device over the `mqtt` package: it speaks the wire protocol of
 * docs/PROTOCOL.md directly, so integration tests can send exactly the bytes they mean (including
 * malformed ones) and see exactly what the server publishes back.
 */

/** The object tree a device answers reads from: `{oid: {iid: {rid|name: value}}}`. */
export type DeviceObjects = Record<string, Record<string, Record<string, unknown>>>;

/** A server request as received on `request/<id>`. */
export interface DeviceRequest {
  transId: number;
  cmdId: number;
  oid?: string | number;
  iid?: string | number;
  rid?: string | number;
  data?: unknown;
}

/** How the device answers a request: a status (and data), or 'ignore' to stay silent. */
export type RequestAnswer = { status: number; data?: unknown } | 'ignore';

export interface TestDeviceOptions {
  /** The tree object reads (cmdId 0) are answered from; an unknown oid/iid/rid is answered 404. */
  objects?: DeviceObjects;
  /** Answer reads and pings automatically (default true). When false, requests are only recorded. */
  autoAnswer?: boolean;
  /** Per-request override; return undefined for the default behaviour. */
  onRequest?: (req: DeviceRequest) => RequestAnswer | undefined;
  /** Default timeout of `call` and the waits, in ms (default 10 s). */
  timeoutMs?: number;
  /** The MQTT connection's client id (default: a unique one derived from the LWMQN clientId). */
  mqttClientId?: string;
  /** More MQTT connect options (a login, TLS `ca`...). */
  connect?: IClientOptions;
}

export interface Received {
  topic: string;
  payload: Buffer;
  /** The payload parsed as JSON, or undefined when it is not JSON. */
  json: any;
  seq: number;
}

/** What the server answers on `<channel>/response/<id>`. */
export interface ChannelAnswer {
  transId: number;
  status: number;
  [k: string]: unknown;
}

export type RespondingChannel = 'register' | 'deregister' | 'update' | 'ping' | 'notify' | 'schedule';

interface Waiter {
  match: (m: Received) => boolean;
  resolve: (m: Received) => void;
}

let connections = 0;

export class TestDevice {
  readonly received: Received[] = [];
  readonly requests: DeviceRequest[] = [];
  objects: DeviceObjects;
  autoAnswer: boolean;
  onRequest?: (req: DeviceRequest) => RequestAnswer | undefined;
  private readonly waiters = new Set<Waiter>();
  private seq = 0;
  private transIds = 100;

  private constructor(
    readonly client: MqttClient,
    readonly clientId: string,
    private readonly options: TestDeviceOptions,
  ) {
    this.objects = options.objects ?? {};
    this.autoAnswer = options.autoAnswer ?? true;
    this.onRequest = options.onRequest;
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** Connects and subscribes to every response topic and to `request/<id>` before returning. */
  static async connect(url: string, clientId: string, options: TestDeviceOptions = {}): Promise<TestDevice> {
    const client = await mqtt.connectAsync(url, {
      clientId: options.mqttClientId ?? `dev-${process.pid}-${++connections}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ...options.connect,
    });
    const device = new TestDevice(client, clientId, options);
    const topics = [
      ...(['register', 'deregister', 'update', 'ping', 'notify', 'schedule'] as const).map((c) => `${c}/response/${clientId}`),
      `request/${clientId}`,
    ];
    const granted = await client.subscribeAsync(topics, { qos: 1 });
    if (granted.some((g) => g.qos > 2)) throw new Error(`subscriptions refused for ${clientId}`);
    return device;
  }

  get timeoutMs(): number {
    return this.options.timeoutMs ?? 10_000;
  }

  nextTransId(): number {
    return ++this.transIds;
  }

  /** Publishes on `<channel>/<id>`: objects as JSON, strings and buffers as the raw bytes. */
  publish(channel: string, payload: unknown): Promise<void> {
    return this.publishTo(`${channel}/${this.clientId}`, payload);
  }

  async publishTo(topic: string, payload: unknown): Promise<void> {
    const raw = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    await this.client.publishAsync(topic, raw, { qos: 1 });
  }

  /**
   * Publishes on `<channel>/<id>` and resolves with the next message on
   * `<channel>/response/<id>` whose transId matches. A plain object without `transId` gets a
   * fresh one; a raw string/buffer is matched against `opts.transIds` (default [0], the
   * transId the server uses when it cannot read the client's).
   */
  async call(
    channel: RespondingChannel,
    payload: unknown,
    opts: { timeoutMs?: number; transIds?: number[] } = {},
  ): Promise<ChannelAnswer> {
    let body = payload;
    let expected = opts.transIds;
    if (isPlainObject(payload)) {
      if (!('transId' in payload)) body = { transId: this.nextTransId(), ...payload };
      const t = (body as Record<string, unknown>).transId;
      if (!expected) expected = typeof t === 'number' ? [t] : [0];
    }
    expected ??= [0];
    const topic = `${channel}/response/${this.clientId}`;
    const answer = this.waitFor((m) => m.topic === topic && isPlainObject(m.json) && expected.includes(m.json.transId as number), {
      timeoutMs: opts.timeoutMs,
      what: `${topic} with transId in [${expected.join(', ')}]`,
    });
    await this.publish(channel, body);
    return (await answer).json as ChannelAnswer;
  }

  /**
   * The first message (received after this call, or also before it with `includePast`) that
   * matches; rejects after the timeout with a description of what it waited for.
   */
  waitFor(
    match: (m: Received) => boolean,
    opts: { timeoutMs?: number; includePast?: boolean; what?: string } = {},
  ): Promise<Received> {
    if (opts.includePast) {
      const past = this.received.find(match);
      if (past) return Promise.resolve(past);
    }
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return new Promise<Received>((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (m) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.clientId}: nothing matching ${opts.what ?? 'the predicate'} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Resolves once at least `count` requests matching `match` have been received. */
  async waitForRequests(
    count: number,
    match: (r: DeviceRequest) => boolean = () => true,
    timeoutMs = this.timeoutMs,
  ): Promise<DeviceRequest[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.requests.filter(match);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.clientId}: ${found.length} of ${count} requests within ${timeoutMs} ms`);
      await this.waitFor((m) => m.topic === `request/${this.clientId}`, { timeoutMs: left }).catch(() => undefined);
    }
  }

  /** Answers a request by hand on `response/<id>`. */
  answer(req: DeviceRequest, status: number, data?: unknown): Promise<void> {
    const body: Record<string, unknown> = { transId: req.transId, cmdId: req.cmdId, status };
    if (data !== undefined) body.data = data;
    return this.publish('response', body);
  }

  /** What a read of `req` returns from the device's tree: 205 and the value, or 404. */
  readFromTree(req: DeviceRequest): { status: number; data?: unknown } {
    const obj = req.oid === undefined ? undefined : this.objects[String(req.oid)];
    if (obj === undefined) return { status: 404 };
    if (req.iid === undefined) return { status: 205, data: obj };
    const inst = obj[String(req.iid)];
    if (inst === undefined) return { status: 404 };
    if (req.rid === undefined) return { status: 205, data: inst };
    return String(req.rid) in inst ? { status: 205, data: inst[String(req.rid)] } : { status: 404 };
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }

  private onMessage(topic: string, payload: Buffer): void {
    let json: any;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      json = undefined;
    }
    const m: Received = { topic, payload, json, seq: ++this.seq };
    this.received.push(m);
    if (topic === `request/${this.clientId}` && isPlainObject(json)) this.onServerRequest(json as unknown as DeviceRequest);
    for (const w of [...this.waiters]) if (w.match(m)) w.resolve(m);
  }

  private onServerRequest(req: DeviceRequest): void {
    this.requests.push(req);
    let answer = this.onRequest?.(req);
    if (answer === undefined && this.autoAnswer) {
      if (req.cmdId === 0) answer = this.readFromTree(req);
      else if (req.cmdId === 7) answer = { status: 200 };
    }
    if (answer === undefined || answer === 'ignore') return;
    void this.answer(req, answer.status, answer.data).catch(() => undefined);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}
