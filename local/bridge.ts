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
}

const MAX_BACKOFF_MS = 5_000;
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
  private deps?: Deps;
  private eventsFor?: (publisher: Publisher) => EventSink;

  constructor(private readonly options: BridgeOptions) {
    this.concurrency = options.concurrency ?? 64;
    this.queue = new KeyedQueue(this.concurrency);
    this.client = mqtt.connect(options.url, {
      clientId: options.clientId,
      clean: false,
      username: options.username,
      password: options.password,
      reconnectPeriod: 1000,
      manualConnect: true,
      // A burst can put more than 65,535 QoS 1 publishes in flight (thousands of registrations,
      // a read per object each). The default provider then wraps around onto ids still in use
      // and those publishes never complete, nor the PUBACKs of the messages waiting on them;
      // this one hands out free ids only and holds further publishes until acks free some.
      messageIdProvider: new UniqueMessageIdProvider(),
    });
    this.publisher = {
      publish: async (topic, payload) => {
        await this.client.publishAsync(topic, payload, { qos: 1 });
      },
    };
    this.deferAcks();
    this.client.on('error', (err) => options.log.warn({ err: err.message }, 'mqtt error'));
    // Each handler waits for the broker's PUBACK of its answer: Nagle's algorithm would hold
    // the small writes back for a delayed ACK (~40 ms) on every message.
    this.client.on('connect', () => (this.client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true));
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
   * Connects and subscribes. Each handler runs with `deps`, its publisher replaced by one that
   * collects the message's own acks, and its events by `eventsFor` of that publisher (events
   * published on MQTT should go through it too; without it they use `deps.events` as given).
   */
  async start(deps: Deps, eventsFor?: (publisher: Publisher) => EventSink): Promise<void> {
    this.deps = deps;
    this.eventsFor = eventsFor;
    await new Promise<void>((resolve, reject) => {
      this.client.once('connect', () => resolve());
      this.client.once('error', reject);
      this.client.connect();
    });
    const granted = await this.client.subscribeAsync([...SERVER_SUBSCRIPTIONS], { qos: 1 });
    const refused = granted.filter((g) => g.qos > 2);
    if (refused.length > 0) throw new Error(`broker refused subscriptions: ${refused.map((g) => g.topic).join(', ')}`);
    this.options.log.info({ url: this.options.url }, 'bridge subscribed to the server channels');
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
    if (!this.client.connected) out.push('not connected to the MQTT broker');
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
    const handled = this.queue.push(key, async () => {
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
    }, urgent);
    // Acknowledged once its answers are, and the device's earlier messages.
    return this.acks.after(key, handled.then(() => Promise.all(answersAcked)));
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
