import mqtt, { type MqttClient } from 'mqtt';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ChannelHandler } from '../../functions';
import { Bridge } from '../../local/bridge';
import type { Deps } from '../../shared/deps';
import type { ClientChannel } from '../../shared/protocol/topics';
import { CapturingLog } from '../helpers/integration';
import { startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';
import { eventually } from '../helpers/poll';

/**
 * "Nothing lost" rests on the bridge holding each QoS 1 PUBACK until that message's handler
 * finished, which it does by replacing a private method of MQTT.js (`deferAcks` in
 * local/bridge.ts). Should an mqtt release send PUBACKs another way, the acks would go out at
 * once and nothing else would notice: so this test watches the bytes the bridge writes to the
 * broker, not the bridge's own bookkeeping.
 */
jest.setTimeout(30_000);

interface WirePacket {
  type: number;
  flags: number;
  body: Buffer;
}

const PUBLISH = 3;
const PUBACK = 4;

/** Splits one direction of an MQTT 3.1.1 byte stream into packets, whatever the TCP chunking. */
function packetReader(onPacket: (packet: WirePacket) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let offset = 1;
      for (;;) {
        if (offset >= pending.length) return;
        const byte = pending[offset++];
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      if (pending.length < offset + length) return;
      onPacket({ type: pending[0] >> 4, flags: pending[0] & 0x0f, body: pending.subarray(offset, offset + length) });
      pending = pending.subarray(offset + length);
    }
  };
}

/**
 * A TCP proxy between the bridge and the broker that records, from the bytes themselves, the
 * packet id the broker gave each QoS 1 message it delivered and every PUBACK the bridge sent.
 * (test/helpers/tcp-proxy.ts only forwards; it does not look at what passes.)
 */
class AckTap {
  /** topic -> packet id of the QoS 1 PUBLISH the broker delivered to the bridge */
  readonly delivered = new Map<string, number>();
  /** packet ids of the bridge's PUBACKs, in the order they left it */
  readonly acked: number[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async start(brokerPort: number): Promise<AckTap> {
    const server = createServer();
    const tap = new AckTap(server);
    server.on('connection', (bridgeSide) => tap.forward(bridgeSide, brokerPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return tap;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(bridgeSide: Socket, brokerPort: number): void {
    const brokerSide = connect(brokerPort, '127.0.0.1');
    // Nagle on the proxy would delay the very writes whose timing the test looks at.
    for (const s of [bridgeSide, brokerSide]) {
      s.setNoDelay(true);
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => {
        this.sockets.delete(s);
        bridgeSide.destroy();
        brokerSide.destroy();
      });
    }
    const fromBridge = packetReader((p) => {
      if (p.type === PUBACK) this.acked.push(p.body.readUInt16BE(0));
    });
    const toBridge = packetReader((p) => {
      const qos = (p.flags >> 1) & 3;
      if (p.type !== PUBLISH || qos === 0) return;
      const topicLength = p.body.readUInt16BE(0);
      const topic = p.body.toString('utf8', 2, 2 + topicLength);
      this.delivered.set(topic, p.body.readUInt16BE(2 + topicLength));
    });
    // Recorded before forwarding: a PUBACK is in `acked` no later than the broker has it.
    bridgeSide.on('data', (chunk: Buffer) => {
      fromBridge(chunk);
      brokerSide.write(chunk);
    });
    brokerSide.on('data', (chunk: Buffer) => {
      toBridge(chunk);
      bridgeSide.write(chunk);
    });
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function deliveredId(tap: AckTap, topic: string): Promise<number> {
  return eventually(
    () => {
      const id = tap.delivered.get(topic);
      if (id === undefined) throw new Error(`the broker has not delivered ${topic} to the bridge`);
      return id;
    },
    { timeoutMs: 5_000 },
  );
}

const HELD_MS = 400;

let broker: MosquittoProcess | undefined;
let tap: AckTap | undefined;
let bridge: Bridge | undefined;
let device: MqttClient | undefined;
const entered = deferred();
const release = deferred();
const handled: string[] = [];

const noop: ChannelHandler = async () => undefined;
const handlers: Record<ClientChannel, ChannelHandler> = {
  register: noop,
  deregister: noop,
  update: noop,
  notify: noop,
  schedule: noop,
  lwt: noop,
  response: noop,
  // Only dev-1 blocks: dev-2's ping shows that one held message does not hold the others' acks.
  ping: async (message) => {
    if (message.topic === 'ping/dev-1') {
      entered.resolve();
      await release.promise;
    }
    handled.push(message.topic);
  },
};

beforeAll(async () => {
  broker = await startMosquitto();
  tap = await AckTap.start(broker.port);
  bridge = new Bridge({ url: tap.url, clientId: `bridge-puback-${process.pid}`, log: new CapturingLog(), handlers });
  // The handlers above read nothing from deps.
  await within(
    10_000,
    bridge.start({ metrics: { handled() {}, answered() {}, storeCall() {}, commandEnded() {} } } as unknown as Deps),
    'bridge start',
  );
  device = await within(
    10_000,
    mqtt.connectAsync(broker.url, { clientId: `puback-sender-${process.pid}`, reconnectPeriod: 0 }),
    'sender connect',
  );
});

afterAll(async () => {
  // A failed assertion leaves dev-1's handler blocked, and close() waits for it.
  release.resolve();
  if (bridge) await within(10_000, bridge.close(), 'bridge close').catch(() => bridge!.client.endAsync(true));
  await device?.endAsync(true);
  await tap?.close();
  await broker?.stop();
});

test("a QoS 1 message's PUBACK leaves the bridge only after its handler finished, each message on its own", async () => {
  await device!.publishAsync('ping/dev-1', '{}', { qos: 1 });
  await within(5_000, entered.promise, "dev-1's ping handler being called");
  const enteredAt = Date.now();
  const dev1 = await deliveredId(tap!, 'ping/dev-1');

  await device!.publishAsync('ping/dev-2', '{}', { qos: 1 });
  const dev2 = await deliveredId(tap!, 'ping/dev-2');
  expect(dev2).not.toBe(dev1);
  await eventually(() => expect(tap!.acked).toContain(dev2), { timeoutMs: 5_000 });
  expect(handled).toEqual(['ping/dev-2']);

  // dev-1's handler is really blocked, so no amount of waiting should let its PUBACK out.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, enteredAt + HELD_MS - Date.now())));
  expect(tap!.acked).not.toContain(dev1);

  release.resolve();
  await eventually(() => expect(tap!.acked).toContain(dev1), { timeoutMs: 5_000 });
  expect(handled).toEqual(['ping/dev-2', 'ping/dev-1']);
  expect(tap!.acked.filter((id) => id === dev1)).toHaveLength(1);
});
