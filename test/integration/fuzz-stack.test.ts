import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import { CLIENT_CHANNELS, type ClientChannel } from '../../shared/protocol/topics';
import type { TestDevice } from '../helpers/device';
import {
  b64,
  expectedTransId,
  garbagePayloads,
  garbageTopics,
  MAX_PAYLOAD_BYTES,
  RESPONDING,
  targetOf,
  validBody,
} from '../helpers/garbage';
import { registerDevice, sampleObjects, sampleObjectsStored, startWorld, type IntegrationWorld } from '../helpers/integration';
import { eventually } from '../helpers/poll';

/**
 * The fuzz generators of test/unit/fuzz.test.ts, published for real: a few hundred broken
 * messages on every channel through Mosquitto and the bridge to the running stack (payloads over
 * 64 KiB and invalid UTF-8 among them). Every one that names a client on a responding channel
 * is answered 400 with the transId the protocol says; no handler fails; afterwards the server
 * is healthy, the registered device is as it was, and a new device still registers.
 */
jest.setTimeout(180_000);

const PER_CHANNEL = 300;
const VICTIM = 'fzs-victim';

let world: IntegrationWorld;
let victim: TestDevice;
let garbage: MqttClient;
const answers: Array<{ topic: string; json: any }> = [];

beforeAll(async () => {
  world = await startWorld({ LWMQN_REQUEST_TIMEOUT_MS: '2000' });
  victim = await world.device(VICTIM, { objects: sampleObjects() });
  expect((await registerDevice(victim)).status).toBe(201);
  garbage = await mqtt.connectAsync(world.mosquitto.url, { clientId: `garbage-${process.pid}`, reconnectPeriod: 0 });
  // Small QoS 1 publishes would each wait out a delayed ACK under Nagle's algorithm.
  (garbage.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  garbage.on('message', (topic, payload) => {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      json = { unparsable: payload.toString('base64') };
    }
    answers.push({ topic, json });
  });
  await garbage.subscribeAsync('+/response/+', { qos: 1 });
});
afterAll(async () => {
  await garbage?.endAsync().catch(() => undefined);
  await world?.close();
});

/**
 * Topic names a broker takes from a client (MQTT 5 section 1.5.4 and Mosquitto's checks): no
 * wildcards, no NUL or other control characters, no surrogates or non-characters, no `$`
 * prefix. Topics under `+/response/+` are left out as well: this suite listens there.
 */
function publishable(topic: unknown): topic is string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.startsWith('$')) return false;
  if (/[+#\u0000-\u001f\u007f-\u009f\ufdd0-\ufdef]/.test(topic)) return false;
  for (const ch of topic) {
    const cp = ch.codePointAt(0)!;
    if ((cp >= 0xd800 && cp <= 0xdfff) || (cp & 0xfffe) === 0xfffe) return false;
  }
  const levels = topic.split('/');
  return !(levels.length === 3 && levels[1] === 'response');
}

interface Sent {
  channel: ClientChannel;
  kind: string;
  topic: string;
  bytes: Buffer;
}

/** PER_CHANNEL generated messages per channel, plus oversized and invalid UTF-8 ones for sure. */
function messages(): Sent[] {
  const out: Sent[] = [];
  for (const channel of CLIENT_CHANNELS) {
    const samples = fc.sample(fc.tuple(garbageTopics(channel, VICTIM), garbagePayloads(channel)), PER_CHANNEL * 2);
    let taken = 0;
    for (const [{ topic, mqttClientId }, { kind, payload }] of samples) {
      // The bridge passes no publisher id and the broker carries bytes: skip the cases that
      // only exist in a Lambda event (a spoofed mqttClientId, a payload field that is not base64).
      if (taken === PER_CHANNEL || mqttClientId !== undefined || typeof payload !== 'string' || kind === 'not base64') continue;
      if (!publishable(topic)) continue;
      // On the stack the topic picks the handler: a message for another channel's topic (a
      // foreign topic to this channel's handler in the unit fuzz) would reach that channel's
      // handler here, where this channel's garbage may well be valid. Those stay unit-level.
      if (CLIENT_CHANNELS.some((other) => other !== channel && targetOf(other, topic, undefined) !== null)) continue;
      out.push({ channel, kind, topic, bytes: Buffer.from(payload, 'base64') });
      taken++;
    }
    // The victim's own topic (other clients' for lwt, whose will would set the victim offline).
    const own = channel === 'lwt' ? `lwt/${VICTIM}-other` : `${channel}/${VICTIM}`;
    const body = Buffer.from(JSON.stringify(validBody(channel, 4242)));
    out.push(
      {
        channel,
        kind: 'huge payload',
        topic: own,
        bytes: Buffer.concat([body.subarray(0, -1), Buffer.from(`,"pad":"${'z'.repeat(MAX_PAYLOAD_BYTES)}"}`)]),
      },
      { channel, kind: 'huge payload', topic: own, bytes: Buffer.alloc(300 * 1024, 0x7b) },
      { channel, kind: 'invalid UTF-8', topic: own, bytes: Buffer.concat([Buffer.from([0xc3, 0x28]), body]) },
      { channel, kind: 'invalid UTF-8', topic: own, bytes: Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0x80, 0xbf]) },
      {
        channel,
        kind: 'invalid UTF-8',
        topic: own,
        bytes: Buffer.concat([body.subarray(0, 12), Buffer.from([0xed, 0xa0, 0x80]), body.subarray(12)]),
      },
    );
  }
  return out;
}

test(`${PER_CHANNEL}+ broken messages on every channel: each answered 400 or dropped, and the server keeps serving`, async () => {
  const before = await world.http(`/devices/${VICTIM}`);
  const objectsBefore = await world.http(`/devices/${VICTIM}/objects`);
  expect(before.status).toBe(200);
  const eventsBefore = world.events.of(VICTIM).length;

  const sent = messages();
  let disconnected = false;
  garbage.once('close', () => (disconnected = true));
  // In batches: each publish waits for the broker's PUBACK.
  for (let i = 0; i < sent.length; i += 50) {
    await Promise.all(sent.slice(i, i + 50).map((m) => garbage.publishAsync(m.topic, m.bytes, { qos: 1 })));
  }
  // The broker took every message: none of the topics made it drop the connection.
  expect(disconnected).toBe(false);

  // What must come back: one 400 per message that names a client on a responding channel.
  const expected: string[] = [];
  for (const m of sent) {
    const target = targetOf(m.channel, m.topic, undefined);
    if (target === null || !RESPONDING.has(m.channel)) continue;
    expected.push(`${m.channel}/response/${target} ${JSON.stringify({ transId: expectedTransId(b64(m.bytes)), status: 400 })}`);
  }
  const received = () => answers.map((a) => `${a.topic} ${JSON.stringify(a.json)}`);
  await eventually(() => expect(received().length).toBeGreaterThanOrEqual(expected.length), { timeoutMs: 120_000, intervalMs: 200 });
  expect(received().sort()).toEqual(expected.sort());

  // No handler failed (the bridge would have logged it and retried).
  expect(world.log.errors()).toEqual([]);
  const health = await world.http('/health');
  expect(health.status).toBe(200);
  expect(health.body).toMatchObject({ ok: true });

  // The registered device is exactly as it was, and nothing was emitted for it.
  expect(await world.http(`/devices/${VICTIM}`)).toEqual(before);
  expect(await world.http(`/devices/${VICTIM}/objects`)).toEqual({ status: 200, body: sampleObjectsStored() });
  expect(objectsBefore.body).toEqual(sampleObjectsStored());
  expect(world.events.of(VICTIM)).toHaveLength(eventsBefore);

  // A new valid device still registers, and the victim is still served.
  const newcomer = await world.device('fzs-newcomer', { objects: sampleObjects() });
  expect(await registerDevice(newcomer, { transId: 5 })).toEqual({ transId: 5, status: 201 });
  expect((await world.http('/devices/fzs-newcomer/objects')).body).toEqual(sampleObjectsStored());
  expect((await victim.call('ping', { transId: 6 })).status).toBe(200);
  expect((await victim.call('notify', { transId: 7, oid: 3303, iid: 0, rid: 5700, data: 30 })).status).toBe(204);

  const registered = (await world.http('/devices')).body.map((d: { clientId: string }) => d.clientId);
  expect(registered.sort()).toEqual(['fzs-newcomer', VICTIM]);

  const kinds = sent.reduce<Record<string, number>>((acc, m) => ((acc[m.kind] = (acc[m.kind] ?? 0) + 1), acc), {});
  const oversized = sent.filter((m) => m.bytes.length > MAX_PAYLOAD_BYTES).length;
  const notUtf8 = sent.filter((m) => !isUtf8(m.bytes)).length;
  expect(oversized).toBeGreaterThanOrEqual(2 * CLIENT_CHANNELS.length);
  expect(notUtf8).toBeGreaterThanOrEqual(3 * CLIENT_CHANNELS.length);
  console.log(
    `fuzz-stack: ${sent.length} messages published (${oversized} over 64 KiB, ${notUtf8} not UTF-8), ` +
      `${expected.length} answered 400 as expected, ${sent.length - expected.length} dropped; kinds ${JSON.stringify(kinds)}`,
  );
});

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
