import {
  MAX_OBJLIST_ENTRIES,
  describeIssue,
  notifySchema,
  registerSchema,
  responseSchema,
  scheduleSchema,
  transIdOnlySchema,
  updateSchema,
} from '../../shared/protocol/schemas';

const REGISTER = { transId: 1, lifetime: 600, ip: '127.0.0.1', mac: 'aa:bb', version: '1', objList: { '1': [0] } };
const ok = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown) => schema.safeParse(value).success;

describe('registerSchema', () => {
  test('a full register and a minimal one (no lifetime, no version) are accepted', () => {
    expect(ok(registerSchema, REGISTER)).toBe(true);
    const { lifetime: _l, version: _v, ...minimal } = REGISTER;
    expect(ok(registerSchema, minimal)).toBe(true);
  });

  test('both objList forms are accepted, with numbers or names', () => {
    expect(
      ok(registerSchema, {
        ...REGISTER,
        objList: [
          { oid: 1, iid: 0 },
          { oid: 'temperature', iid: '1' },
        ],
      }),
    ).toBe(true);
    expect(ok(registerSchema, { ...REGISTER, objList: { temperature: [0, '1'] } })).toBe(true);
    expect(ok(registerSchema, { ...REGISTER, objList: [] })).toBe(true);
  });

  test.each(['transId', 'ip', 'mac', 'objList'])('missing %s is refused', (key) => {
    expect(ok(registerSchema, { ...REGISTER, [key]: undefined })).toBe(false);
  });

  test.each([
    ['an unknown field', { extra: 1 }],
    ['transId as a string', { transId: '1' }],
    ['a negative transId', { transId: -1 }],
    ['lifetime 0', { lifetime: 0 }],
    ['a lifetime over ten years', { lifetime: 10 * 365 * 86400 + 1 }],
    ['an empty mac', { mac: '' }],
    ['a mac over 64 characters', { mac: 'a'.repeat(65) }],
    ['an ip over 64 characters', { ip: '1'.repeat(65) }],
    ['a version over 32 characters', { version: 'v'.repeat(33) }],
    ['null ip', { ip: null }],
    ['objList null', { objList: null }],
    ['objList pair with a name too long', { objList: [{ oid: 'x'.repeat(65), iid: 0 }] }],
    ['objList pair with an empty oid', { objList: [{ oid: '', iid: 0 }] }],
    ['objList pair with oid beyond 32 bits', { objList: [{ oid: 2 ** 32, iid: 0 }] }],
    ['objList record with a boolean iid', { objList: { '1': [true] } }],
    ['objList record with an empty key', { objList: { '': [0] } }],
  ])('%s is refused', (_name, patch) => {
    expect(ok(registerSchema, { ...REGISTER, ...patch })).toBe(false);
  });

  test(`objList holds at most ${MAX_OBJLIST_ENTRIES} entries in either form`, () => {
    const pairs = (n: number) => Array.from({ length: n }, (_, i) => ({ oid: 3303, iid: i }));
    expect(ok(registerSchema, { ...REGISTER, objList: pairs(MAX_OBJLIST_ENTRIES) })).toBe(true);
    expect(ok(registerSchema, { ...REGISTER, objList: pairs(MAX_OBJLIST_ENTRIES + 1) })).toBe(false);
    const iids = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(ok(registerSchema, { ...REGISTER, objList: { '3303': iids(MAX_OBJLIST_ENTRIES) } })).toBe(true);
    expect(ok(registerSchema, { ...REGISTER, objList: { '3303': iids(600), '3304': iids(600) } })).toBe(false);
  });
});

describe('updateSchema', () => {
  test.each([{ ip: '1.2.3.4' }, { lifetime: 60 }, { version: '2' }, { mac: 'aa' }, { objList: {} }])(
    'one attribute is enough: %j',
    (patch) => {
      expect(ok(updateSchema, { transId: 1, ...patch })).toBe(true);
    },
  );

  test('an update with no attribute is refused, with a readable reason', () => {
    const result = updateSchema.safeParse({ transId: 1 });
    expect(result.success).toBe(false);
    expect(describeIssue(result.error!)).toMatch(/no attribute/);
  });

  test.each([
    ['an unknown field', { transId: 1, ip: 'x', joinTime: 5 }],
    ['no transId', { ip: 'x' }],
    ['a wrong type', { transId: 1, version: 2 }],
  ])('%s is refused', (_name, value) => {
    expect(ok(updateSchema, value)).toBe(false);
  });
});

describe('transIdOnlySchema (deregister, ping)', () => {
  test('an unknown field is refused, transId is required and a non-negative integer', () => {
    expect(transIdOnlySchema.parse({ transId: 3 })).toEqual({ transId: 3 });
    expect(ok(transIdOnlySchema, { transId: 3, extra: 1 })).toBe(false);
    expect(ok(transIdOnlySchema, {})).toBe(false);
    expect(ok(transIdOnlySchema, { transId: -3 })).toBe(false);
    expect(ok(transIdOnlySchema, { transId: 3.5 })).toBe(false);
  });
});

describe('notifySchema', () => {
  test.each([
    ['a resource notify', { oid: 3303, iid: 0, rid: 5700, data: 21 }],
    ['names', { oid: 'temperature', iid: '0', rid: 'sensorValue', data: 'x' }],
    ['a null value', { oid: 3303, iid: 0, rid: 5700, data: null }],
    ['a structured value', { oid: 3303, iid: 0, rid: 5700, data: { a: [1] } }],
    ['an instance notify', { oid: 3303, iid: 0, data: { sensorValue: 1, '5701': 'C' } }],
  ])('%s is accepted', (_name, fields) => {
    expect(ok(notifySchema, { transId: 1, ...fields })).toBe(true);
  });

  test.each([
    ['no data', { oid: 3303, iid: 0, rid: 5700 }],
    ['an instance notify with a scalar', { oid: 3303, iid: 0, data: 5 }],
    ['an instance notify with an array', { oid: 3303, iid: 0, data: [5] }],
    ['an instance notify with null', { oid: 3303, iid: 0, data: null }],
    ['an instance notify with no resources', { oid: 3303, iid: 0, data: {} }],
    ['an instance notify with an empty resource name', { oid: 3303, iid: 0, data: { '': 1 } }],
    ['an instance notify with a resource name over 64 characters', { oid: 3303, iid: 0, data: { ['r'.repeat(65)]: 1 } }],
    ['no oid', { iid: 0, rid: 5700, data: 1 }],
    ['a float iid', { oid: 3303, iid: 0.5, rid: 5700, data: 1 }],
    ['an empty rid', { oid: 3303, iid: 0, rid: '', data: 1 }],
  ])('%s is refused', (_name, fields) => {
    expect(ok(notifySchema, { transId: 1, ...fields })).toBe(false);
  });
});

describe('scheduleSchema', () => {
  test('sleep with and without a duration, and wake', () => {
    expect(ok(scheduleSchema, { transId: 1, sleep: true, duration: 60 })).toBe(true);
    expect(ok(scheduleSchema, { transId: 1, sleep: true, duration: 0.5 })).toBe(true);
    expect(ok(scheduleSchema, { transId: 1, sleep: false })).toBe(true);
  });

  test.each([
    ['no sleep', { transId: 1 }],
    ['sleep as a string', { transId: 1, sleep: 'false' }],
    ['a negative duration', { transId: 1, sleep: true, duration: -1 }],
    ['a duration as a string', { transId: 1, sleep: true, duration: '1' }],
  ])('%s is refused', (_name, value) => {
    expect(ok(scheduleSchema, value)).toBe(false);
  });
});

describe('responseSchema', () => {
  test('a response with and without data', () => {
    expect(ok(responseSchema, { transId: 1, cmdId: 0, status: 205, data: { '0': {} } })).toBe(true);
    expect(ok(responseSchema, { transId: 1, cmdId: 4, status: 204 })).toBe(true);
  });

  test.each([
    ['no status', { transId: 1, cmdId: 0 }],
    ['no cmdId', { transId: 1, status: 205 }],
    ['a status below 100', { transId: 1, cmdId: 0, status: 99 }],
    ['a status above 599', { transId: 1, cmdId: 0, status: 600 }],
    ['a cmdId above 255', { transId: 1, cmdId: 256, status: 205 }],
    ['a fractional cmdId', { transId: 1, cmdId: 0.5, status: 205 }],
  ])('%s is refused', (_name, value) => {
    expect(ok(responseSchema, value)).toBe(false);
  });
});

describe('describeIssue', () => {
  test('names the field at fault', () => {
    const result = registerSchema.safeParse({ ...REGISTER, mac: 5 });
    expect(describeIssue(result.error!)).toMatch(/^mac: /);
  });
});
