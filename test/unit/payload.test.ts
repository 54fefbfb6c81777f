import { LIMITS, decodeBase64Payload, decodeJsonObject, usableTransId } from '../../shared/protocol/payload';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const decode = (text: string) => decodeBase64Payload(b64(text));
const nest = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('decodeBase64Payload', () => {
  test('a JSON object comes back as is', () => {
    expect(decode('{"transId":1,"a":[1,{"b":null}]}')).toEqual({ ok: true, value: { transId: 1, a: [1, { b: null }] } });
  });

  test('UTF-8 text survives the base64 round trip', () => {
    expect(decode('{"name":"Zürich ☀"}')).toEqual({ ok: true, value: { name: 'Zürich ☀' } });
  });

  test.each([
    ['not JSON', '{"transId":1'],
    ['empty', ''],
    ['trailing garbage', '{"transId":1} x'],
    ['single quotes', "{'transId':1}"],
    ['NaN', '{"transId":NaN}'],
  ])('%s is refused as not JSON', (_name, text) => {
    expect(decode(text)).toEqual({ ok: false, reason: 'payload is not JSON' });
  });

  test.each([
    ['an array', '[{"transId":1}]', [{ transId: 1 }]],
    ['a string', '"hi"', 'hi'],
    ['a number', '7', 7],
    ['null', 'null', null],
    ['a boolean', 'true', true],
  ])('%s is refused as not an object, with the parsed value kept', (_name, text, value) => {
    expect(decode(text)).toEqual({ ok: false, reason: 'payload is not a JSON object', value });
  });

  test('a payload of exactly the limit is accepted, one byte more is refused', () => {
    const frame = '{"p":""}';
    const atLimit = `{"p":"${'x'.repeat(LIMITS.maxPayloadBytes - frame.length)}"}`;
    expect(Buffer.byteLength(atLimit)).toBe(64 * 1024);
    expect(decode(atLimit).ok).toBe(true);
    const over = `{"p":"${'x'.repeat(LIMITS.maxPayloadBytes - frame.length + 1)}"}`;
    expect(decode(over)).toEqual({ ok: false, reason: 'payload too large' });
  });

  test('the limit counts bytes, not characters', () => {
    const text = `{"p":"${'é'.repeat(33_000)}"}`;
    expect(text.length).toBeLessThan(LIMITS.maxPayloadBytes);
    expect(decode(text)).toEqual({ ok: false, reason: 'payload too large' });
  });

  test('a huge base64 string is refused before it is decoded', () => {
    const spy = jest.spyOn(Buffer, 'from');
    const huge = 'A'.repeat(10 * 1024 * 1024);
    expect(decodeBase64Payload(huge)).toEqual({ ok: false, reason: 'payload too large' });
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  test('something that is not a string is refused', () => {
    expect(decodeBase64Payload(undefined as unknown as string).ok).toBe(false);
    expect(decodeBase64Payload({ length: 1 } as unknown as string).ok).toBe(false);
  });
});

describe('nesting limit', () => {
  test(`${LIMITS.maxDepth} levels are accepted, one more is refused`, () => {
    // The root object is level 1.
    expect(decodeJsonObject(`{"a":${nest(LIMITS.maxDepth - 1)}}`).ok).toBe(true);
    const deeper = decodeJsonObject(`{"transId":3,"a":${nest(LIMITS.maxDepth)}}`);
    expect(deeper).toMatchObject({ ok: false, reason: 'payload nested too deeply' });
    expect(usableTransId(deeper.value)).toBe(3);
  });

  test('objects count like arrays', () => {
    const deep = '{"a":'.repeat(LIMITS.maxDepth) + '1' + '}'.repeat(LIMITS.maxDepth);
    expect(decodeJsonObject(deep).ok).toBe(true);
    const deeper = '{"a":'.repeat(LIMITS.maxDepth + 1) + '1' + '}'.repeat(LIMITS.maxDepth + 1);
    expect(decodeJsonObject(deeper)).toMatchObject({ ok: false, reason: 'payload nested too deeply' });
  });

  test('a 30000-level payload is refused without overflowing the stack', () => {
    expect(decode(`{"a":${nest(30_000)}}`)).toMatchObject({ ok: false, reason: 'payload nested too deeply' });
  });

  test('wide but shallow payloads are fine', () => {
    const wide = JSON.stringify({ items: Array.from({ length: 5_000 }, (_, i) => ({ i })) });
    expect(decode(wide).ok).toBe(true);
  });
});

describe('forbidden keys', () => {
  test.each(['__proto__', 'constructor', 'prototype'])('%s is refused at the top level and nested', (key) => {
    expect(decodeJsonObject(`{"transId":4,"${key}":{"polluted":1}}`)).toMatchObject({
      ok: false,
      reason: `forbidden key ${key}`,
    });
    expect(decodeJsonObject(`{"a":[{"b":{"${key}":1}}]}`)).toMatchObject({ ok: false, reason: `forbidden key ${key}` });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('the keys are fine as values', () => {
    expect(decodeJsonObject('{"a":"__proto__","b":["constructor"]}').ok).toBe(true);
  });
});

describe('numbers', () => {
  test.each(['1e999', '-1e999', '[1e400]'])('%s (beyond the double range) is refused', (n) => {
    expect(decodeJsonObject(`{"transId":5,"v":${n}}`)).toMatchObject({ ok: false, reason: 'number out of range' });
  });

  test('large and tiny finite numbers are fine here (the store decides what it holds)', () => {
    expect(decodeJsonObject('{"a":1e300,"b":-1e-300,"c":12345678901234567890}').ok).toBe(true);
  });
});

describe('usableTransId', () => {
  test.each([
    [{ transId: 0 }, 0],
    [{ transId: 42 }, 42],
    [{ transId: Number.MAX_SAFE_INTEGER }, Number.MAX_SAFE_INTEGER],
    [{ transId: -1 }, 0],
    [{ transId: 1.5 }, 0],
    [{ transId: '42' }, 0],
    [{ transId: null }, 0],
    [{ transId: 2 ** 60 }, 0],
    [{}, 0],
    [[{ transId: 42 }], 0],
    ['{"transId":42}', 0],
    [null, 0],
    [undefined, 0],
  ])('%j -> %d', (value, expected) => {
    expect(usableTransId(value)).toBe(expected);
  });
});
