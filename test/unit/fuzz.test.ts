import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { CHANNEL_HANDLERS } from '../../functions';
import { notify } from '../../functions/notify';
import type { ChannelMessage } from '../../shared/deps';
import { CLIENT_CHANNELS } from '../../shared/protocol/topics';
import type { DeviceItem } from '../../shared/store/model';
import { registerDevice } from '../helpers/devices';
import { expectedTransId, garbagePayloads, garbageTopics, RESPONDING, targetOf, transIdArb } from '../helpers/garbage';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';
import { allPages } from '../helpers/pages';

/**
 * Property-based fuzzing of every channel handler against a real dynalite table holding one
 * registered device. Every generated input is broken by construction (test/helpers/garbage.ts says
 * how), and for each one:
 * - no exception escapes the handler (the bridge would retry it forever, Lambda would too);
 * - on a channel with a response topic, when the topic names a client, exactly one answer goes
 *   to `<channel>/response/<id>`: `{transId, status: 400}`, transId echoed when the payload had
 *   a usable non-negative integer transId, else 0 (docs/PROTOCOL.md, "transId echo");
 * - nothing at all is published for foreign topics and spoofed publishers, nor on lwt/response;
 * - no event is emitted, the registered device's record is unchanged, no other device or
 *   registration appears, and Object.prototype is not polluted.
 */
jest.setTimeout(120_000);

const ID = 'fz-dev';
/** Runs per channel property; 8 channels x RUNS + the extra properties below are the total. */
const RUNS = 1000;
const DATA_RUNS = 500;

let store: TestStore;
let deps: TestDeps;
let baseline: DeviceItem;
let protoNames: string[];

const tried = {
  total: 0,
  escaped: 0,
  answered400: 0,
  dropped: 0,
  byChannel: {} as Record<string, number>,
  byKind: {} as Record<string, number>,
};
const count = (channel: string, kind: string) => {
  tried.total++;
  tried.byChannel[channel] = (tried.byChannel[channel] ?? 0) + 1;
  tried.byKind[kind] = (tried.byKind[kind] ?? 0) + 1;
};

beforeAll(async () => {
  store = await startTestStore();
  deps = await makeDeps(store);
  baseline = await registerDevice(deps, ID);
  protoNames = Object.getOwnPropertyNames(Object.prototype).sort();
});

afterAll(async () => {
  console.log(
    `fuzz: ${tried.total} generated inputs, ${tried.escaped} escaped exceptions (${tried.answered400} answered 400, ${tried.dropped} dropped unanswered, ` +
      `the rest well-formed notify data); per channel ${JSON.stringify(tried.byChannel)}; ` +
      `per kind ${JSON.stringify(tried.byKind)}`,
  );
  await store?.close();
});

// ---- the properties ----------------------------------------------------------------------

async function storedDevice(id: string): Promise<DeviceItem | null> {
  return deps.devices.get(id, deps.clock.now());
}

describe.each([...CLIENT_CHANNELS])('%s handler', (channel) => {
  test(`${RUNS} broken payloads on random topics: 400 or nothing, no throw, no state change`, async () => {
    const handler = CHANNEL_HANDLERS[channel];
    await fc.assert(
      fc.asyncProperty(garbageTopics(channel, ID), garbagePayloads(channel), async ({ topic, mqttClientId }, { kind, payload }) => {
        count(channel, kind);
        deps.publisher.clear();
        deps.events.clear();
        const msg = { topic, payload, mqttClientId, receivedAt: deps.clock.now() } as ChannelMessage;
        try {
          await handler(msg, deps);
        } catch (err) {
          tried.escaped++;
          throw new Error(`${channel} handler threw on ${kind}: ${(err as Error).stack}`, { cause: err });
        }

        const target = targetOf(channel, topic, mqttClientId);
        const published = deps.publisher.published.map((p) => ({ topic: p.topic, payload: p.payload }));
        if (target !== null && RESPONDING.has(channel)) {
          tried.answered400++;
          expect(published).toEqual([
            { topic: `${channel}/response/${target}`, payload: JSON.stringify({ transId: expectedTransId(payload), status: 400 }) },
          ]);
        } else {
          tried.dropped++;
          expect(published).toEqual([]);
        }
        expect(deps.events.events).toEqual([]);

        const now = await storedDevice(ID);
        if (!isDeepStrictEqual(now, baseline)) {
          // Put it back so that shrinking looks for the input that changed it, not any input.
          if (now) await deps.devices.create(baseline, deps.clock.now());
          throw new Error(`${ID} changed by ${kind}: ${JSON.stringify(now)}`);
        }
        expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoNames);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
    // Nothing was registered or left half-registered by the garbage.
    const later = deps.clock.now() + 365 * 86_400_000;
    expect((await deps.devices.list(deps.clock.now())).map((d) => d.clientId)).toEqual([ID]);
    expect(await allPages(deps.registrations.overdue(later, 10))).toEqual([]);
  });
});

/**
 * Whether notify data is accepted: DynamoDB keeps numbers of magnitude 1e-130 .. <1e126, and
 * the decoder refuses prototype keys and nesting beyond 16 levels (the payload root is level 1,
 * its data level 2). Anything else is a 400.
 */
function acceptable(value: unknown, level = 2): boolean {
  if (typeof value === 'number') {
    const abs = Math.abs(value);
    return abs === 0 || (abs >= 1e-130 && abs < 1e126);
  }
  if (value === null || typeof value !== 'object') return true;
  if (level > 16) return false;
  if (Object.keys(value).some((k) => k === '__proto__' || k === 'constructor' || k === 'prototype')) return false;
  return Object.values(value).every((v) => acceptable(v, level + 1));
}

test(`${DATA_RUNS} well-formed notifies with arbitrary data: 204 and stored as sent, or 400 and nothing stored`, async () => {
  // A second device, so the fuzzed one above keeps its record; only this resource may change.
  await registerDevice(deps, 'fz-data');
  const special = fc.constantFrom(
    1e200,
    -1e200,
    5e-324,
    1e-131,
    1e-130,
    9.99e125,
    1e126,
    -0,
    2 ** 53 + 2,
    0.1 + 0.2,
    '',
    '\ud800',
    '\u0000',
  );
  const data = fc.oneof(
    fc.jsonValue(),
    special,
    fc.array(special, { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), special, { maxKeys: 3 }),
  );
  let previous: unknown = 21.5;
  await fc.assert(
    fc.asyncProperty(transIdArb, data, async (transId, value) => {
      count('notify-data', 'arbitrary data');
      deps.publisher.clear();
      deps.events.clear();
      const raw = JSON.stringify({ transId, oid: 3303, iid: 0, rid: 5700, data: value });
      await notify(message('notify/fz-data', raw), deps);
      const answers = deps.publisher.on('notify/response/fz-data');
      const stored = (await storedDevice('fz-data'))!.objects['3303'];
      const sent = JSON.parse(raw).data;
      if (acceptable(sent)) {
        expect(answers).toEqual([{ transId, status: 204 }]);
        expect(stored['0']['5700']).toEqual(sent);
        previous = stored['0']['5700'];
      } else {
        expect(answers).toEqual([{ transId, status: 400 }]);
        expect(stored['0']['5700']).toEqual(previous);
      }
      expect(stored['0']['5701']).toBe('C');
      expect(stored['1']).toEqual({ '5700': 19, '5701': 'C' });
    }),
    { numRuns: DATA_RUNS },
  );
  expect(await storedDevice(ID)).toEqual(baseline);
});
