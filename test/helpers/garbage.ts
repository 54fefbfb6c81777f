import fc from 'fast-check';
import { CLIENT_CHANNELS, type ClientChannel } from '../../shared/protocol/topics';
import { MAC } from './devices';

/**
 * Generators of broken LWMQN input for the fuzz suites (test/unit/fuzz.test.ts on the handlers,
 * test/integration/fuzz-stack.test.ts on the running stack), and the oracles that say what the
 * server must make of it. Every payload `garbagePayloads(channel)` yields is invalid for that
 * channel by construction (the comments say how), so a handler must answer it 400 or drop it.
 */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
export const RESPONDING: ReadonlySet<ClientChannel> = new Set(['register', 'deregister', 'update', 'ping', 'notify', 'schedule']);

// ---- oracles: written from docs/PROTOCOL.md, independent of the handlers' own helpers -------------

/** The clientId a message speaks for, or null when it must be dropped unanswered. */
export function targetOf(channel: ClientChannel, topic: unknown, mqttClientId: unknown): string | null {
  if (typeof topic !== 'string') return null;
  const parts = topic.split('/');
  if (parts.length !== 2 || parts[0] !== channel) return null;
  const id = parts[1];
  // 1..128 characters, no level separator, no wildcard, no NUL (nor other control characters).
  if (id.length < 1 || id.length > 128 || /[+#\u0000-\u001f\u007f]/.test(id)) return null;
  if (mqttClientId !== undefined && mqttClientId !== id) return null;
  return id;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The JSON the payload decodes to (utf8 of the base64 bytes), or undefined when it does not. */
export function decodedJson(payload: unknown): { value: unknown } | undefined {
  if (typeof payload !== 'string') return undefined;
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length > MAX_PAYLOAD_BYTES) return undefined;
  try {
    return { value: JSON.parse(bytes.toString('utf8')) };
  } catch {
    return undefined;
  }
}

/** The transId a 400 must carry: the client's when usable, else 0. */
export function expectedTransId(payload: unknown): number {
  const decoded = decodedJson(payload);
  if (!decoded || !isPlainObject(decoded.value)) return 0;
  const t = decoded.value.transId;
  // `+ 0` turns -0 (a usable 0) into the 0 JSON carries.
  return typeof t === 'number' && Number.isSafeInteger(t) && t >= 0 ? t + 0 : 0;
}

export const parsesToObject = (payload: string) => isPlainObject(decodedJson(payload)?.value);

// ---- generators --------------------------------------------------------------------------

export const b64 = (raw: string | Uint8Array) => Buffer.from(raw).toString('base64');
export interface Input {
  kind: string;
  /** What goes into ChannelMessage.payload (normally base64 of the raw bytes). */
  payload: unknown;
}
export const input = (kind: string, raw: string | Uint8Array): Input => ({ kind, payload: b64(raw) });

export const transIdArb = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constant(0));

/** A body each channel accepts (for the registered device it changes nothing). */
export function validBody(channel: ClientChannel, transId: number): Record<string, unknown> {
  switch (channel) {
    case 'register':
      return { transId, lifetime: 600, ip: '127.0.0.1', mac: MAC, version: '0.0.1', objList: { '1': [0], '3303': [0, 1] } };
    case 'update':
      return { transId, lifetime: 600 };
    case 'notify':
      return { transId, oid: 3303, iid: 0, rid: 5700, data: 21.5 };
    case 'schedule':
      return { transId, sleep: false };
    case 'response':
      return { transId, cmdId: 0, status: 205, data: { '0': { sensorValue: 1 } } };
    default:
      return { transId };
  }
}

const smallJson = fc.jsonValue({ maxDepth: 2 });
const someObject = fc.dictionary(fc.string({ maxLength: 6 }), smallJson, { maxKeys: 3 });
const someArray = fc.array(smallJson, { maxLength: 4 });
/** A string of `min..max` code points (zod, like docs/PROTOCOL.md, counts characters, not UTF-16 units). */
const repeated = (min: number, max: number) =>
  fc.tuple(fc.string({ minLength: 1, maxLength: 3, unit: 'binary' }), fc.integer({ min, max })).map(([s, n]) => {
    const chars = Array.from(s);
    return Array.from({ length: n }, (_, i) => chars[i % chars.length]).join('');
  });
const notNumber = fc.oneof(fc.string({ maxLength: 12 }), fc.boolean(), fc.constant(null), someArray, someObject);
const notString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  someArray,
  someObject,
);
const notInt = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x));
const negInt = fc.integer({ min: -(2 ** 31), max: -1 });
const wrongTransId = fc.oneof(notNumber, notInt, negInt, fc.constantFrom(2 ** 53, 1e21, 1e300, -1e300));
const wrongId = fc.oneof(
  fc.boolean(),
  fc.constant(null),
  someArray,
  someObject,
  negInt,
  notInt,
  fc.constantFrom(2 ** 32, 1e15, ''),
  repeated(65, 300),
);
const wrongLifetime = fc.oneof(notNumber, notInt, fc.integer({ min: -1000, max: 0 }), fc.constantFrom(10 * 365 * 86400 + 1, 1e12));
const wrongObjList = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.record({ oid: wrongId, iid: fc.nat() }), { minLength: 1, maxLength: 3 }),
  fc.array(fc.record({ oid: fc.nat(), iid: wrongId }), { minLength: 1, maxLength: 3 }),
  fc.array(fc.record({ oid: fc.nat(), iid: fc.nat(), extra: smallJson }), { minLength: 1, maxLength: 3 }),
  fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string(), fc.integer(), fc.constant(null), someObject), {
    minKeys: 1,
    maxKeys: 3,
  }),
  fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.array(wrongId, { minLength: 1, maxLength: 3 }), {
    minKeys: 1,
    maxKeys: 3,
  }),
  fc.constant({ '': [0] }),
  fc.constant(Array.from({ length: 1025 }, (_, i) => ({ oid: 3303, iid: i }))),
);
const wrongBool = fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.constant(null), someArray, someObject);
const wrongDuration = fc.oneof(
  notNumber,
  fc.double({ max: -1e-9, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(10 * 365 * 86400 + 1, 1e20),
);
const wrongCmdId = fc.oneof(notNumber, notInt, negInt, fc.integer({ min: 256, max: 1e9 }));
const wrongStatus = fc.oneof(notNumber, notInt, fc.integer({ min: -1000, max: 99 }), fc.integer({ min: 600, max: 1e6 }));
const longText = (over: number) => repeated(over + 1, over + 2000);

/** [field, generator of a value that field never accepts]; `undefined` deletes a required field. */
type Mutation = [string, fc.Arbitrary<unknown>];
const DELETE = fc.constant(undefined);
const MUTATIONS: Record<ClientChannel, Mutation[]> = {
  register: [
    ['transId', wrongTransId],
    ['transId', DELETE],
    ['lifetime', wrongLifetime],
    ['ip', notString],
    ['ip', longText(64)],
    ['ip', DELETE],
    ['mac', notString],
    ['mac', fc.constant('')],
    ['mac', longText(64)],
    ['mac', DELETE],
    ['version', notString],
    ['version', longText(32)],
    ['objList', wrongObjList],
    ['objList', DELETE],
  ],
  update: [
    ['transId', wrongTransId],
    ['transId', DELETE],
    ['lifetime', wrongLifetime],
    ['lifetime', DELETE],
    ['ip', notString],
    ['ip', longText(64)],
    ['mac', notString],
    ['mac', longText(64)],
    ['version', notString],
    ['version', longText(32)],
    ['objList', wrongObjList],
  ],
  deregister: [
    ['transId', wrongTransId],
    ['transId', DELETE],
  ],
  ping: [
    ['transId', wrongTransId],
    ['transId', DELETE],
  ],
  notify: [
    ['transId', wrongTransId],
    ['transId', DELETE],
    ['oid', wrongId],
    ['oid', DELETE],
    ['iid', wrongId],
    ['iid', DELETE],
    ['rid', wrongId],
    ['data', DELETE],
  ],
  schedule: [
    ['transId', wrongTransId],
    ['transId', DELETE],
    ['sleep', wrongBool],
    ['sleep', DELETE],
    ['duration', wrongDuration],
  ],
  response: [
    ['transId', wrongTransId],
    ['transId', DELETE],
    ['cmdId', wrongCmdId],
    ['cmdId', DELETE],
    ['status', wrongStatus],
    ['status', DELETE],
  ],
  lwt: [['transId', wrongTransId]],
};
const KNOWN_FIELDS = new Set([
  'transId',
  'lifetime',
  'ip',
  'mac',
  'version',
  'objList',
  'oid',
  'iid',
  'rid',
  'data',
  'sleep',
  'duration',
  'cmdId',
  'status',
]);
const unknownKey = fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }).filter((k) => !KNOWN_FIELDS.has(k));

/** `{...}` with `,"key":raw` appended inside the outermost object. */
const withRaw = (body: Record<string, unknown>, key: string, raw: string) =>
  `${JSON.stringify(body).slice(0, -1)},${JSON.stringify(key)}:${raw}}`;
const nestArrays = (n: number, inner: string) => '['.repeat(n) + inner + ']'.repeat(n);
const nestObjects = (n: number, inner: string) => '{"a":'.repeat(n) + inner + '}'.repeat(n);

/** Every way this suite breaks a payload for `channel`. */
export function garbagePayloads(channel: ClientChannel): fc.Arbitrary<Input> {
  const mutation = fc
    .constantFrom(...MUTATIONS[channel])
    .chain(([field, wrong]) =>
      fc.tuple(transIdArb, wrong).map(([t, value]) => ({ field, body: { ...validBody(channel, t), [field]: value } })),
    );
  // Every answering channel refuses unknown fields; response (which answers nothing) drops them.
  const lenient = channel === 'response';
  const notJsonText = (s: string) => !parsesToObject(b64(s));

  const kinds: Array<{ arbitrary: fc.Arbitrary<Input>; weight: number }> = [
    // arbitrary text, any unicode (lone surrogates included), and raw bytes
    {
      weight: 2,
      arbitrary: fc
        .string({ maxLength: 300, unit: 'binary' })
        .filter(notJsonText)
        .map((s) => input('arbitrary string', s)),
    },
    {
      weight: 1,
      arbitrary: fc
        .string({ maxLength: 60, unit: fc.integer({ min: 0xd700, max: 0xdfff }).map((c) => String.fromCharCode(c)) })
        .map((s) => input('lone surrogates', s)),
    },
    {
      weight: 2,
      arbitrary: fc
        .uint8Array({ maxLength: 2000 })
        .filter((b) => !parsesToObject(b64(b)))
        .map((b) => input('random bytes', b)),
    },
    // arbitrary JSON values that carry no transId
    {
      weight: 3,
      arbitrary: fc
        .jsonValue()
        .filter((v) => !(isPlainObject(v) && 'transId' in v))
        .map((v) => input('arbitrary JSON', JSON.stringify(v) ?? 'null')),
    },
    // the payload field is not base64 (lenient decoding turns it into junk bytes), or not a string at all
    {
      weight: 1,
      arbitrary: fc
        .string({ maxLength: 200, unit: fc.constantFrom(...'{}[]":,.!?*$ \\\u00e9\u4e2d\ud83d\ude00=-_+/abcXYZ019'.split('')) })
        .filter((s) => !parsesToObject(s))
        .map((s) => ({ kind: 'not base64', payload: s })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom<unknown>(undefined, null, 42, true, {}, [], { transId: 1 })
        .map((p) => ({ kind: 'payload not a string', payload: p })),
    },
    // a valid body, cut short, wrapped, or framed by invalid UTF-8
    {
      weight: 1,
      arbitrary: transIdArb.chain((t) => {
        const text = JSON.stringify(validBody(channel, t));
        return fc.integer({ min: 0, max: text.length - 1 }).map((n) => input('truncated', text.slice(0, n)));
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(transIdArb, fc.constantFrom('array', 'string', 'number')).map(([t, how]) => {
        const text = JSON.stringify(validBody(channel, t));
        return input(`wrapped in ${how}`, how === 'array' ? `[${text}]` : how === 'string' ? JSON.stringify(text) : String(t));
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          transIdArb,
          fc.constantFrom([0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x80, 0x80]),
          fc.constantFrom('start', 'after brace', 'end'),
        )
        .map(([t, bad, where]) => {
          const text = Buffer.from(JSON.stringify(validBody(channel, t)));
          const junk = Buffer.from(bad);
          const bytes =
            where === 'start'
              ? Buffer.concat([junk, text])
              : where === 'end'
                ? Buffer.concat([text, junk])
                : Buffer.concat([text.subarray(0, 1), junk, text.subarray(1)]);
          return input('invalid UTF-8', bytes);
        }),
    },
    // the channel's own fields with the wrong type, out of range, or missing (plus, on channels
    // that ignore unknown fields, some unknown ones on top)
    {
      weight: 6,
      arbitrary: fc
        .tuple(mutation, fc.dictionary(unknownKey, smallJson, { maxKeys: lenient ? 3 : 0 }))
        .map(([{ field, body }, extra]) => input(`wrong ${field}`, JSON.stringify({ ...body, ...extra }))),
    },
    // duplicate keys: the last transId counts
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          mutation,
          wrongTransId.filter((v) => v !== undefined),
        )
        .map(([{ body }, t]) => input('duplicate transId', withRaw(body, 'transId', JSON.stringify(t)))),
    },
    // prototype-polluting keys, at the root or nested
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          transIdArb,
          fc.constantFrom('__proto__', 'constructor', 'prototype'),
          fc.integer({ min: 0, max: 6 }),
          unknownKey,
          fc.boolean(),
        )
        .map(([t, key, depth, name, insideData]) => {
          const poison = `{${JSON.stringify(key)}:{"polluted":true,${JSON.stringify(name)}:1,"prototype":{"polluted":true}}}`;
          const raw = nestObjects(depth, poison);
          const body = validBody(channel, t);
          if (insideData && 'data' in body) return input(`${key} key`, JSON.stringify({ ...body, data: '@@' }).replace('"@@"', raw));
          return input(
            `${key} key`,
            depth === 0 ? `${JSON.stringify(body).slice(0, -1)},${poison.slice(1)}` : withRaw(body, 'x', raw),
          );
        }),
    },
    // nesting deeper than the decoder takes (the root is level 1)
    {
      weight: 2,
      arbitrary: fc
        .tuple(transIdArb, fc.integer({ min: 16, max: 20_000 }), fc.boolean(), unknownKey)
        .map(([t, depth, arrays, key]) =>
          input('deep nesting', withRaw(validBody(channel, t), key, arrays ? nestArrays(depth, '1') : nestObjects(depth, '1'))),
        ),
    },
    // numbers no store holds
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          transIdArb,
          fc.constantFrom('1e999', '-1e400', '[1,2,1e999]', '{"v":-1e999}'),
          fc.constantFrom('transId', 'extra', 'data'),
        )
        .map(([t, raw, where]) => {
          const body = validBody(channel, t);
          if (where === 'transId')
            return input('number overflows', JSON.stringify(body).replace(/"transId":\d+/, `"transId":${raw}`));
          if (where === 'data' && 'data' in body)
            return input('number overflows', JSON.stringify({ ...body, data: '@@' }).replace('"@@"', raw));
          return input('number overflows', withRaw(body, 'big', raw));
        }),
    },
    // huge payloads: over the 64 KiB limit in one field
    {
      weight: 1,
      arbitrary: fc
        .tuple(transIdArb, fc.integer({ min: MAX_PAYLOAD_BYTES + 1, max: 100 * 1024 }), fc.constantFrom('pad', 'ip', 'data', 'mac'))
        .map(([t, n, field]) => input('huge payload', JSON.stringify({ ...validBody(channel, t), [field]: 'x'.repeat(n) }))),
    },
  ];
  // Unknown fields alone are a 400 only where the protocol refuses them.
  if (!lenient) {
    kinds.push({
      weight: 2,
      arbitrary: fc
        .tuple(transIdArb, fc.dictionary(unknownKey, smallJson, { minKeys: 1, maxKeys: 4 }))
        .map(([t, extra]) => input('unknown field', JSON.stringify({ ...validBody(channel, t), ...extra }))),
    });
  }
  if (channel === 'update')
    kinds.push({ weight: 1, arbitrary: transIdArb.map((t) => input('no attribute', JSON.stringify({ transId: t }))) });
  if (channel === 'notify') {
    // an instance notify (no rid) whose data is not a non-empty {rid: value} with sane rids
    const badInstanceData = fc.oneof(
      fc.constant({}),
      notString.filter((v) => !isPlainObject(v)),
      fc.string(),
      fc.constant({ '': 1 }),
      longText(64).map((k) => ({ [k]: 1 })),
    );
    kinds.push({
      weight: 2,
      arbitrary: fc
        .tuple(transIdArb, badInstanceData)
        .map(([t, data]) => input('bad instance data', JSON.stringify({ transId: t, oid: 3303, iid: 0, data }))),
    });
  }
  return fc.oneof(...kinds);
}

/** Topics and publishers: mostly the registered device, then other clients, then everything foreign. */
export function garbageTopics(
  channel: ClientChannel,
  registeredId: string,
): fc.Arbitrary<{ topic: unknown; mqttClientId?: unknown }> {
  const validId = fc
    .string({ minLength: 1, maxLength: 128, unit: 'binary' })
    .filter((id) => targetOf(channel, `${channel}/${id}`, undefined) === id && id !== registeredId);
  const other = fc.constantFrom(
    ...CLIENT_CHANNELS.filter((c) => c !== channel),
    'request',
    'announce',
    channel.toUpperCase(),
    `${channel} `,
  );
  const foreign = fc.oneof(
    fc.string({ maxLength: 200, unit: 'binary' }).map((topic) => ({ topic })),
    other.map((o) => ({ topic: `${o}/${registeredId}` })),
    fc
      .constantFrom(
        `${channel}/${registeredId}/extra`,
        `${channel}/response/${registeredId}`,
        `/${channel}/${registeredId}`,
        `${channel}//${registeredId}`,
        `${channel}/${registeredId}/`,
      )
      .map((topic) => ({ topic })),
    fc
      .constantFrom(
        `${channel}/+`,
        `${channel}/#`,
        `${channel}/a+b`,
        `${channel}/${registeredId}#`,
        `+/${registeredId}`,
        '#',
        `${channel}/+/${registeredId}`,
      )
      .map((topic) => ({ topic })),
    fc.constantFrom(`${channel}/`, channel, '', '/').map((topic) => ({ topic })),
    fc.integer({ min: 129, max: 400 }).map((n) => ({ topic: `${channel}/${'x'.repeat(n)}` })),
    fc.constantFrom('\u0000', '\n', '\t', '\u007f', '\u001b').map((c) => ({ topic: `${channel}/ab${c}cd` })),
    fc
      .string({ maxLength: 20 })
      // On lwt, a will that names no client ('' or the rules engine's 'n/a') is the broker's own
      // publication of the device's will (shared/ops/inbound.ts): not a spoof.
      .filter((s) => s !== registeredId && !(channel === 'lwt' && (s === '' || s === 'n/a')))
      .map((mqttClientId) => ({ topic: `${channel}/${registeredId}`, mqttClientId })),
    fc.constantFrom<unknown>(undefined, null, 42, {}, ['a']).map((topic) => ({ topic })),
  );
  // lwt takes any payload, so the registered device's own will topic would (rightly) set it
  // offline: lwt is fuzzed on other clients, foreign topics and spoofed publishers only.
  const own = fc
    .constantFrom<unknown>(undefined, registeredId)
    .map((mqttClientId) => ({ topic: `${channel}/${registeredId}`, mqttClientId }));
  return fc.oneof(
    { weight: channel === 'lwt' ? 0 : 5, arbitrary: own },
    { weight: 2, arbitrary: validId.map((id) => ({ topic: `${channel}/${id}` })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 128 }).map((n) => ({ topic: `${channel}/${'y'.repeat(n)}` })) },
    { weight: 4, arbitrary: foreign },
  );
}
