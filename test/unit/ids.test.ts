import { normalizeIid, normalizeOid, normalizeRid, wireId } from '../../shared/protocol/ids';

describe('normalizeOid', () => {
  test.each([
    [3303, '3303'],
    ['3303', '3303'],
    ['temperature', '3303'],
    ['device', '3'],
    ['lwm2mServer', '1'],
    ['connMonitor', '4'],
    [0, '0'],
    ['0', '0'],
  ])('%j -> %s', (oid, expected) => {
    expect(normalizeOid(oid)).toBe(expected);
  });

  test.each([
    'myObject',
    'Temperature', // names are case-sensitive
    '1e3', // lwm2m-id would parse this as a number
    ' 3303',
    '3303.0',
    '03303',
    'toString', // lwm2m-id answers its own methods for these
    'valueOf',
    'get',
    'size',
    'enums',
  ])('unknown id %j stays as given', (oid) => {
    expect(normalizeOid(oid)).toBe(oid);
  });

  test('distinct unknown names never collide', () => {
    const names = ['toString', 'valueOf', 'hasOwnProperty', 'get', 'getKey', 'size', 'isDefined'];
    expect(new Set(names.map(normalizeOid)).size).toBe(names.length);
  });
});

describe('normalizeIid', () => {
  test.each([
    [0, '0'],
    ['0', '0'],
    [12, '12'],
    ['12', '12'],
    ['a', 'a'],
    ['007', '007'],
  ])('%j -> %s', (iid, expected) => {
    expect(normalizeIid(iid)).toBe(expected);
  });
});

describe('normalizeRid', () => {
  test.each([
    [3303, 'sensorValue', '5700'],
    ['temperature', 'sensorValue', '5700'],
    ['3303', 'units', '5701'],
    [3303, 5700, '5700'],
    [3303, '5700', '5700'],
    [3, 'manuf', '0'],
    ['device', 'model', '1'],
    [1, 'shortServerId', '0'],
    [1, 'lifetime', '1'],
  ])('(%j, %j) -> %s', (oid, rid, expected) => {
    expect(normalizeRid(oid, rid)).toBe(expected);
  });

  test('generic IPSO resource names resolve under objects the dictionary does not know', () => {
    expect(normalizeRid('myObject', 'sensorValue')).toBe('5700');
    expect(normalizeRid(40000, 'units')).toBe('5701');
  });

  test.each([
    [3303, 'mySetting'],
    [3303, 'SensorValue'],
    [3303, '05700'],
    [3303, '5.7e3'],
    [3303, 'toString'],
    [3303, 'valueOf'],
    ['myObject', 'get'],
  ])('(%j, %j): unknown rid stays as given', (oid, rid) => {
    expect(normalizeRid(oid, rid)).toBe(rid);
  });
});

describe('wireId', () => {
  test.each([
    ['3303', 3303],
    ['0', 0],
    ['myObject', 'myObject'],
    ['007', '007'],
    ['-1', '-1'],
  ])('%j -> %j', (id, expected) => {
    expect(wireId(id)).toBe(expected);
  });
});
