import mqtt, { type MqttClient } from 'mqtt';
import { CHANNEL_HANDLERS } from '../functions';
import type { Deps } from '../shared/deps';
import type { Logger, Publisher } from '../shared/ports';
import { isClientChannel, SERVER_SUBSCRIPTIONS } from '../shared/protocol/topics';
import { KeyedQueue } from './keyed-queue';

export interface BridgeOptions {
  url: string;
  /** Fixed so the broker keeps the bridge's session (and its queued messages) across restarts. */
  clientId: string;
  username?: string;
  password?: string;
  log: Logger;
}

const MAX_BACKOFF_MS = 5_000;

/**
 * The local stand-in for IoT topic rules: subscribes QoS 1 to the server channels and hands
 * each message to its channel handler in the DESIGN.md shape. Messages of one device run in
 * order; devices run in parallel. A handler that throws (the store is down) is retried with
 * backoff until it succeeds or the bridge closes.
 */
export class Bridge {
  readonly client: MqttClient;
  readonly publisher: Publisher;
  private readonly queue = new KeyedQueue();
  private closing = false;
  private deps?: Deps;

  constructor(private readonly options: BridgeOptions) {
    this.client = mqtt.connect(options.url, {
      clientId: options.clientId,
      clean: false,
      username: options.username,
      password: options.password,
      reconnectPeriod: 1000,
      manualConnect: true,
    });
    this.publisher = {
      publish: async (topic, payload) => {
        await this.client.publishAsync(topic, payload, { qos: 1 });
      },
    };
    this.client.on('error', (err) => options.log.warn({ err: err.message }, 'mqtt error'));
    this.client.on('message', (topic, payload) => this.dispatch(topic, payload));
  }

  /** Connects and subscribes; handlers run with `deps`, which carry this bridge's publisher. */
  async start(deps: Deps): Promise<void> {
    this.deps = deps;
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

  get inFlight(): number {
    return this.queue.size;
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private dispatch(topic: string, payload: Buffer): void {
    const slash = topic.indexOf('/');
    const channel = topic.slice(0, slash);
    if (slash <= 0 || !isClientChannel(channel)) return;
    const message = { topic, payload: payload.toString('base64'), receivedAt: Date.now() };
    const handler = CHANNEL_HANDLERS[channel];
    void this.queue.push(topic.slice(slash + 1), async () => {
      for (let attempt = 0; !this.closing || attempt === 0; attempt++) {
        try {
          await handler(message, this.deps!);
          return;
        } catch (err) {
          const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt);
          this.options.log.error({ err, topic, attempt, retryInMs: delay }, 'handler failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    });
  }

  /** Stops taking messages, lets in-flight handlers finish, then disconnects. */
  async close(): Promise<void> {
    // Subscriptions stay: the broker keeps queueing devices' messages for the next start.
    this.closing = true;
    await this.queue.idle();
    await this.client.endAsync();
  }
}
