import { canonicalObjList, sameObjList } from '../../shared/protocol/objlist';

describe('canonicalObjList', () => {
  const canonical = { '1': [0], '3': [0], '3303': [0, 1] };

  test('the seed form and the reference client form give the same canonical list', () => {
    const seed = canonicalObjList([
      { oid: 3303, iid: 1 },
      { oid: 1, iid: 0 },
      { oid: 3, iid: 0 },
      { oid: 3303, iid: 0 },
    ]);
    const client = canonicalObjList({ '3303': [1, 0], '3': [0], '1': [0] });
    expect(seed).toEqual(canonical);
    expect(client).toEqual(canonical);
    expect(JSON.stringify(seed)).toBe(JSON.stringify(client));
  });

  test('object names become their numeric ids', () => {
    expect(
      canonicalObjList([
        { oid: 'temperature', iid: 0 },
        { oid: 'device', iid: 0 },
        { oid: 'lwm2mServer', iid: 0 },
      ]),
    ).toEqual({
      '1': [0],
      '3': [0],
      '3303': [0],
    });
    expect(canonicalObjList({ temperature: [0], connMonitor: [0] })).toEqual({ '4': [0], '3303': [0] });
  });

  test('numeric strings and numbers are the same id', () => {
    expect(
      canonicalObjList([
        { oid: '3303', iid: '1' },
        { oid: 3303, iid: 1 },
      ]),
    ).toEqual({ '3303': [1] });
    expect(canonicalObjList({ '3303': ['0', 0, 1, '1'] })).toEqual({ '3303': [0, 1] });
  });

  test('a name and its number in one list merge into one object', () => {
    expect(canonicalObjList({ temperature: [0], '3303': [1] })).toEqual({ '3303': [0, 1] });
  });

  test('iids sort numerically, not as text', () => {
    expect(canonicalObjList({ '3303': [10, 2, 1] })['3303']).toEqual([1, 2, 10]);
  });

  test('ids the dictionary does not know stay as given', () => {
    expect(
      canonicalObjList([
        { oid: 'myThing', iid: 'a' },
        { oid: 'myThing', iid: 0 },
      ]),
    ).toEqual({ myThing: [0, 'a'] });
  });

  test('an empty list in either form is empty', () => {
    expect(canonicalObjList([])).toEqual({});
    expect(canonicalObjList({})).toEqual({});
  });

  test('an object listed without instances disappears', () => {
    expect(canonicalObjList({ '3303': [], '1': [0] })).toEqual({ '1': [0] });
  });
});

describe('sameObjList', () => {
  test('canonical lists built from different forms compare equal', () => {
    expect(sameObjList(canonicalObjList({ '1': [0] }), canonicalObjList([{ oid: 'lwm2mServer', iid: 0 }]))).toBe(true);
  });

  test('a different instance set is a change', () => {
    expect(sameObjList(canonicalObjList({ '1': [0] }), canonicalObjList({ '1': [0, 1] }))).toBe(false);
    expect(sameObjList(canonicalObjList({ '1': [0] }), canonicalObjList({ '3': [0] }))).toBe(false);
  });
});
