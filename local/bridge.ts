import mqtt, { UniqueMessageIdProvider, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { ChannelHandler } from '../functions';
import type { Deps } from '../shared/deps';
import type { EventSink, Logger, Publisher } from '../shared/ports';
import { isClientChannel, SERVER_SUBSCRIPTIONS, type ClientChannel } from '../shared/protocol/topics';
import { KeyedQueue } from './keyed-queue';
import { OrderedAcks } from './ordered-acks';

export interface BridgeOptions {
  url: string;
  /** Fixed so the broker keeps the bridge's session (and its queued messages) across restarts. */
  clientId: string;
  username?: string;
  password?: string;
  log: Logger;
  /** Injected so a test can hold a handler mid-way and watch what the bridge does meanwhile. */
  handlers: Record<ClientChannel, ChannelHandler>;
  /** Handlers running at once across all devices (each device's messages still run in order). */
  concurrency?: number;
  /** How long one connection attempt waits for the broker's CONNACK before it counts as failed. */
  connectTimeoutMs?: number;
}

/**
 * The broker answered the bridge's CONNECT with a refusal (MQTT 3.1.1 return codes 1, 2, 4, 5;
 * their MQTT 5 counterparts): retrying the same login cannot succeed, the settings must change.
 */
export class BrokerRefusedError extends Error {
  constructor(
    readonly url: string,
    readonly code: number,
    readonly reason: string,
  ) {
    super(`the MQTT broker at ${url} refused the connection (${reason}, code ${code})`);
    this.name = 'BrokerRefusedError';
  }

  /** Bad username or password, or not authorized: the account is wrong, not the broker. */
  get isLogin(): boolean {
    return LOGIN_REFUSALS.has(this.code);
  }
}

/** CONNACK codes after which the same CONNECT cannot succeed; 3 (server unavailable) is retried. */
const FATAL_REFUSALS = new Set([1, 2, 4, 5, 0x84, 0x85, 0x86, 0x87, 0x8c]);
const LOGIN_REFUSALS = new Set([4, 5, 0x86, 0x87, 0x8c]);

/** The broker's URL without the password it may carry, for logs and /health. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

const MAX_BACKOFF_MS = 5_000;

const coalesced = new WeakSet<object>();

/**
 * Every MQTT packet the bridge sends (a PUBACK, an answer, an event) was its own write system
 * call: MQTT.js corks the socket only until the next tick. Under load that was a sixth of the
 * server's CPU, and as many wake-ups of the broker. Holding the socket corked until the event
 * loop's next turn sends everything one turn produced in one write; the delay is that turn.
 */
export function coalesceWrites(stream: { write: (...args: never[]) => boolean; cork(): void; uncork(): void }): void {
  if (coalesced.has(stream)) return;
  coalesced.add(stream);
  const write = stream.write;
  let corked = false;
  const flush = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function (this: unknown, ...args: never[]) {
    if (!corked) {
      corked = true;
      stream.cork();
      setImmediate(flush);
    }
    return write.apply(this, args);
  };
}
type SendPacket = (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: () => void) => void;

/**
 * The local stand-in for IoT topic rules: subscribes QoS 1 to the server channels and hands
 * each message to its channel handler in the shape of docs/PROTOCOL.md, "Handler input".
 *
 * Nothing is lost: the session is persistent (fixed client id, clean session off) and a
 * message is acknowledged only after its handler finished, so a bridge killed mid-way gets
 * every unfinished message again from the broker. A handler that throws (the store is down) is
 * retried with backoff and stays unacknowledged until it succeeds. Messages of one device run
 * in order; devices run in parallel.
 */
export class Bridge {
  readonly client: MqttClient;
  readonly publisher: Publisher;
  private readonly queue: KeyedQueue;
  private readonly concurrency: number;
  /** messageId -> the handler run its PUBACK waits for */
  private readonly unacked = new Map<number, Promise<void>>();
  private behindAt = 0;
  private readonly retrying = new Set<string>();
  /** A device's PUBACKs go out in its messages' order. */
  private readonly acks = new OrderedAcks();
  private lastError: string | undefined;
  private closing = false;
  /** Why the last connection attempt failed (cleared on connect). */
  private connectFailure: string | undefined;
  private subscribed = false;
  private subscribeProblem: string | undefined;
  private readonly url: string;
  private readonly connectTimeoutMs: number;
  private deps?: Deps;
  private eventsFor?: (publisher: Publisher) => EventSink;

  constructor(private readonly options: BridgeOptions) {
    this.concurrency = options.concurrency ?? 64;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.queue = new KeyedQueue(this.concurrency);
    this.url = displayUrl(options.url);
    // MQTT.js cannot write a CONNECT with a password and no username: it drops the connection
    // without a word and retries forever.
    if (options.password !== undefined && !options.username) throw new Error('a broker password needs a username');
    this.client = mqtt.connect(options.url, {
      clientId: options.clientId,
      clean: false,
      username: options.username,
      password: options.password,
      reconnectPeriod: 1000,
      connectTimeout: this.connectTimeoutMs,
      // After a start, a refused login (the account changed under a running server) is retried
      // like any other failure; start() itself stops at a refusal.
      reconnectOnConnackError: true,
      manualConnect: true,
      // A burst can put more than 65,535 QoS 1 publishes in flight (thousands of registrations,
      // a read per object each). The default provider then wraps around onto ids still in use
      // and those publishes never complete, nor the PUBACKs of the messages waiting on them;
      // this one hands out free ids only and holds further publishes until acks free some.
      messageIdProvider: new UniqueMessageIdProvider(),
      // mqtt-packet's default keeps 65,536 two-byte Buffers for packet ids, about 7 MiB of heap for
      // a few bytes written per packet (docs/PERFORMANCE.md, "Memory"). The setting is mqtt-packet's,
      // so it holds for the whole process; local/stack.ts turns it off before the broker starts.
      writeCache: false,
    });
    this.publisher = {
      publish: async (topic, payload) => {
        await this.client.publishAsync(topic, payload, { qos: 1 });
      },
    };
    this.deferAcks();
    this.watchConnection();
  }

  /**
   * MQTT.js acknowledges a QoS 1 message once `handleMessage` calls back, and it processes the
   * next incoming packet only then: waiting there for the handler would serialise every device
   * behind the slowest. So `handleMessage` returns at once and the PUBACK itself is held back
   * until the handler run for that messageId has finished.
   */
  private deferAcks(): void {
    const client = this.client;
    // `_sendPacket` is MQTT.js's (private) single exit for outgoing packets, stable across v5.
    const internals = client as unknown as { _sendPacket: SendPacket };
    client.handleMessage = (packet: IPublishPacket, callback: (error?: Error) => void) => {
      // Messages not yet acknowledged count against the broker's window towards the bridge.
      if (this.acks.size >= this.concurrency) this.behindAt = Date.now();
      const run = this.closing ? new Promise<void>(() => undefined) : this.dispatch(packet.topic, packet.payload as Buffer);
      // A run rejects only when its handler failed while the bridge is closing: the message stays
      // unacknowledged (the broker delivers it again) and must not crash the stopping process.
      run.catch(() => undefined);
      if (packet.qos > 0 && packet.messageId !== undefined) this.unacked.set(packet.messageId, run);
      callback();
    };
    const send = internals._sendPacket.bind(client);
    internals._sendPacket = (packet, cb, cbStorePut) => {
      const messageId = (packet as { messageId?: number }).messageId;
      const run = packet.cmd === 'puback' && messageId !== undefined ? this.unacked.get(messageId) : undefined;
      if (!run) return send(packet, cb, cbStorePut);
      this.unacked.delete(messageId!);
      cb?.();
      void run.then(
        () => {
          if (client.connected) send(packet);
        },
        () => undefined, // failed while closing: no PUBACK
      );
    };
  }

  /**
   * One warning per failed connection attempt (MQTT.js retries every second), one when an
   * established connection drops, and the reason kept for problems().
   */
  private watchConnection(): void {
    const log = this.options.log;
    let attemptError: string | undefined;
    let connected = false;
    /** A warning was logged since the last connect. */
    let troubled = false;
    this.client.on('error', (err) => {
      const code = (err as { code?: unknown }).code;
      if (err.message === 'connack timeout') attemptError = `no answer to CONNECT within ${this.connectTimeoutMs} ms`;
      else attemptError = typeof code === 'number' ? `${err.message} (code ${code})` : err.message;
      if (connected) log.warn({ url: this.url, err: err.message }, 'mqtt error');
    });
    this.client.on('connect', () => {
      connected = true;
      attemptError = undefined;
      this.connectFailure = undefined;
      // Each handler waits for the broker's PUBACK of its answer: Nagle's algorithm would hold
      // the small writes back for a delayed ACK (~40 ms) on every message.
      (this.client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      coalesceWrites(this.client.stream);
      if (troubled) log.info({ url: this.url }, 'connected to the MQTT broker');
      troubled = false;
    });
    this.client.on('close', () => {
      if (this.closing) return;
      if (connected) {
        connected = false;
        log.warn({ url: this.url, err: attemptError }, 'lost the connection to the MQTT broker; reconnecting every second');
      } else {
        this.connectFailure = attemptError ?? 'the connection closed before the broker answered';
        log.warn({ url: this.url, err: this.connectFailure }, 'cannot connect to the MQTT broker; retrying in 1 s');
      }
      attemptError = undefined;
      troubled = true;
    });
  }

  /**
   * Connects and subscribes. Each handler runs with `deps`, its publisher replaced by one that
   * collects the message's own acks, and its events by `eventsFor` of that publisher (events
   * published on MQTT should go through it too; without it they use `deps.events` as given).
   *
   * Resolves at the first outcome of the first attempt: connected and subscribed, or not
   * reachable (logged; the client keeps retrying and subscribes when it gets through, see
   * problems()). Rejects with a BrokerRefusedError when the broker refuses the login, and when
   * it refuses a subscription.
   */
  async start(deps: Deps, eventsFor?: (publisher: Publisher) => EventSink): Promise<void> {
    this.deps = deps;
    this.eventsFor = eventsFor;
    const first = await new Promise<'connected' | 'unreachable'>((resolve, reject) => {
      const settle = () => {
        this.client.off('connect', onConnect);
        this.client.off('error', onError);
        this.client.off('close', onClose);
      };
      const onConnect = () => (settle(), resolve('connected'));
      const onError = (err: Error) => {
        const code = (err as { code?: unknown }).code;
        if (typeof code !== 'number' || !FATAL_REFUSALS.has(code)) return; // 'close' follows
        settle();
        this.closing = true;
        this.client.end(true);
        reject(new BrokerRefusedError(this.url, code, err.message.replace(/^Connection refused: /, '')));
      };
      // After this attempt's 'error', if any: the warning is logged by watchConnection.
      const onClose = () => (settle(), resolve('unreachable'));
      this.client.on('connect', onConnect);
      this.client.on('error', onError);
      this.client.on('close', onClose);
      this.client.connect();
    });
    // Later connections: MQTT.js subscribes again by itself when the broker lost the session;
    // a first connection after start() returned subscribes here.
    if (first === 'connected') return this.subscribe();
    this.client.on('connect', () => {
      if (!this.subscribed) void this.subscribe().catch(() => undefined);
    });
  }

  private async subscribe(): Promise<void> {
    const granted = await this.client.subscribeAsync([...SERVER_SUBSCRIPTIONS], { qos: 1 });
    const refused = granted.filter((g) => g.qos > 2);
    if (refused.length > 0) {
      this.subscribeProblem = `the MQTT broker at ${this.url} refused the subscriptions ${refused.map((g) => g.topic).join(', ')}`;
      this.options.log.error({ url: this.url }, this.subscribeProblem);
      throw new Error(`broker refused subscriptions: ${refused.map((g) => g.topic).join(', ')}`);
    }
    this.subscribed = true;
    this.subscribeProblem = undefined;
    this.options.log.info({ url: this.url }, 'bridge subscribed to the server channels');
  }

  /**
   * When a message last arrived while as many were unacknowledged as handlers run at once (epoch
   * ms; 0 if never): the broker's window towards the bridge was filling up, and further messages,
   * devices' answers among them, waited behind it.
   */
  get lastBehindAt(): number {
    return this.behindAt;
  }

  /** Messages taken and not yet acknowledged, and those waiting to be retried. */
  backlog(): { backlog: number; retrying: number } {
    return { backlog: this.acks.size, retrying: this.retrying.size };
  }

  /** Problems that make the server degraded right now (empty when all is well). */
  problems(): string[] {
    const out: string[] = [];
    if (!this.client.connected) {
      const why = this.connectFailure ? `: ${this.connectFailure}` : '';
      out.push(`not connected to the MQTT broker at ${this.url}${why}`);
    }
    if (this.subscribeProblem) out.push(this.subscribeProblem);
    if (this.retrying.size > 0) out.push(`${this.retrying.size} message(s) waiting for the store: ${this.lastError}`);
    return out;
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private dispatch(topic: string, payload: Buffer): Promise<void> {
    const slash = topic.indexOf('/');
    const channel = topic.slice(0, slash);
    if (slash <= 0 || !isClientChannel(channel)) return Promise.resolve();
    const message = { topic, payload: payload.toString('base64'), receivedAt: Date.now() };
    const handler = this.options.handlers[channel];
    const key = topic.slice(slash + 1);
    // Device answers complete registrations and commands that are on a clock: they go first.
    const urgent = channel === 'response';
    const answersAcked: Promise<unknown>[] = [];
    // The handler's publishes are on the wire, in order, once publish() returns: the device's
    // next message may start then, while this message's PUBACK still waits for their acks (a
    // crash before them means the broker delivers this message again).
    const publisher: Publisher = {
      publish: async (topic, payload) => {
        const acked = this.client.publishAsync(topic, payload, { qos: 1 });
        acked.catch(() => undefined);
        answersAcked.push(acked);
      },
    };
    const deps: Deps = { ...this.deps!, publisher, events: this.eventsFor?.(publisher) ?? this.deps!.events };
    const handled = this.queue.push(
      key,
      async () => {
        for (let attempt = 0; ; attempt++) {
          const started = performance.now();
          try {
            await handler(message, deps);
            deps.metrics.handled(channel, (performance.now() - started) / 1000, false);
            return;
          } catch (err) {
            deps.metrics.handled(channel, (performance.now() - started) / 1000, true);
            if (this.closing) throw err; // left unacknowledged: the broker delivers it again next start
            const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt);
            this.lastError = err instanceof Error ? err.message : String(err);
            this.retrying.add(topic + '#' + message.receivedAt);
            this.options.log.error({ err, topic, attempt, retryInMs: delay }, 'handler failed; retrying');
            await new Promise((resolve) => setTimeout(resolve, delay));
          } finally {
            this.retrying.delete(topic + '#' + message.receivedAt);
          }
        }
      },
      urgent,
    );
    // Acknowledged once its answers are, and the device's earlier messages.
    return this.acks.after(
      key,
      handled.then(() => Promise.all(answersAcked)),
    );
  }

  /** Stops taking messages, lets in-flight handlers finish and acknowledges them, then disconnects. */
  async close(): Promise<void> {
    // Subscriptions stay: the broker keeps queueing devices' messages for the next start.
    this.closing = true;
    await this.queue.idle();
    await this.acks.settled();
    await new Promise((resolve) => setImmediate(resolve)); // let the last PUBACKs go out
    await this.client.endAsync();
  }
}
