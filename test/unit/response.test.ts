import { register } from '../../functions/register';
import { response } from '../../functions/response';
import { update } from '../../functions/update';
import { answerReads, nowSec, registerBody, registerDevice } from '../helpers/devices';
import { foreignTopics, malformedPayloads, prototypeIsClean } from '../helpers/malformed';
import { CapturingLog } from '../helpers/integration';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

const device = (id: string) => deps.devices.get(id, deps.clock.now());
const readsOf = (id: string) => deps.publisher.on(`request/${id}`);
const registerAnswers = (id: string) => deps.publisher.on('register/response/' + id);
const send = (id: string, body: unknown, mqttClientId?: string) => response(message(`response/${id}`, body, mqttClientId), deps);

/** Starts a registration of n1 and returns its two outstanding reads. */
async function startRegistration(): Promise<Array<{ transId: number; oid: number }>> {
  await register(message('register/n1', registerBody()), deps);
  const reads = readsOf('n1');
  expect(reads).toHaveLength(2);
  return reads;
}

const unusedTransId = (...taken: number[]) => [1, 2, 3].find((t) => !taken.includes(t))!;

const treeOf = (oid: number) => (oid === 1 ? { '0': { lifetime: 600 } } : { '0': { sensorValue: 1 }, '1': { sensorValue: 2 } });

describe('answers that complete a request', () => {
  test('the reads of a registration, answered in any order, complete it once', async () => {
    const [a, b] = await startRegistration();
    await send('n1', { transId: b.transId, cmdId: 0, status: 205, data: treeOf(b.oid) });
    expect(registerAnswers('n1')).toEqual([]);
    await send('n1', { transId: a.transId, cmdId: 0, status: 205, data: treeOf(a.oid) });
    expect(registerAnswers('n1')).toEqual([{ transId: 101, status: 201 }]);
  });

  test('fields the protocol does not define are dropped and logged; the answer still counts', async () => {
    const log = new CapturingLog();
    deps.log = log;
    const [a, b] = await startRegistration();
    await send('n1', { transId: a.transId, cmdId: 0, status: 205, data: treeOf(a.oid), uptime: 5 });
    await send('n1', { transId: b.transId, cmdId: 0, status: 205, data: treeOf(b.oid) });
    expect(registerAnswers('n1')).toEqual([{ transId: 101, status: 201 }]);
    expect(log.entries).toEqual([
      { level: 'warn', obj: { clientId: 'n1', fields: ['uptime'] }, msg: 'dropped unknown fields of a response' },
    ]);
  });

  test('an answer is activity: it renews a registered device', async () => {
    const before = await registerDevice(deps, 'n1');
    await update(message('update/n1', { transId: 5, objList: { '1': [0], '3303': [0, 1] } }), deps);
    const [first] = readsOf('n1');
    deps.clock.advance(8_000);
    await send('n1', { transId: first.transId, cmdId: 0, status: 205, data: treeOf(first.oid) });
    expect((await device('n1'))?.expiresAt).toBe(before.expiresAt + 8);
    expect((await device('n1'))?.expiresAt).toBe(nowSec(deps) + 600);
    expect(deps.publisher.on('update/response/n1')).toEqual([]);
  });
});

describe('responses nobody waits for are dropped quietly', () => {
  test('a duplicate answer is ignored: one 201, one devIncoming', async () => {
    const [a, b] = await startRegistration();
    const first = { transId: a.transId, cmdId: 0, status: 205, data: treeOf(a.oid) };
    await send('n1', first);
    await send('n1', first);
    await send('n1', { transId: b.transId, cmdId: 0, status: 205, data: treeOf(b.oid) });
    await send('n1', { transId: b.transId, cmdId: 0, status: 205, data: treeOf(b.oid) });
    expect(registerAnswers('n1')).toEqual([{ transId: 101, status: 201 }]);
    expect(deps.events.of('devIncoming')).toHaveLength(1);
  });

  test('a duplicate with another status does not undo the first answer', async () => {
    const [a, b] = await startRegistration();
    await send('n1', { transId: a.transId, cmdId: 0, status: 205, data: treeOf(a.oid) });
    await send('n1', { transId: a.transId, cmdId: 0, status: 500 });
    await send('n1', { transId: b.transId, cmdId: 0, status: 205, data: treeOf(b.oid) });
    expect(registerAnswers('n1')).toEqual([{ transId: 101, status: 201 }]);
  });

  test('a late answer (after the request timed out) publishes nothing and registers nothing', async () => {
    const reads = await startRegistration();
    deps.publisher.clear();
    deps.clock.advance(11_000);
    for (const r of reads) {
      await expect(send('n1', { transId: r.transId, cmdId: 0, status: 205, data: treeOf(r.oid) })).resolves.toBeUndefined();
    }
    expect(deps.publisher.published).toEqual([]);
    expect(deps.events.events).toEqual([]);
    expect(await device('n1')).toBeNull();
  });

  test('answers after the registration already failed change nothing', async () => {
    const [a, b] = await startRegistration();
    await send('n1', { transId: a.transId, cmdId: 0, status: 404 });
    expect(registerAnswers('n1')).toEqual([{ transId: 101, status: 500 }]);
    await send('n1', { transId: b.transId, cmdId: 0, status: 205, data: treeOf(b.oid) });
    expect(registerAnswers('n1')).toEqual([{ transId: 101, status: 500 }]);
    expect(await device('n1')).toBeNull();
  });

  test.each([
    ['an unknown transId', (a: number, b: number) => ({ transId: unusedTransId(a, b), cmdId: 0, status: 205, data: {} })],
    ['another cmdId', (a: number) => ({ transId: a, cmdId: 1, status: 204 })],
  ])('%s matches nothing', async (_name, body) => {
    const [a, b] = await startRegistration();
    deps.publisher.clear();
    await expect(send('n1', body(a.transId, b.transId))).resolves.toBeUndefined();
    expect(deps.publisher.published).toEqual([]);
    const pending = await deps.registrations.get('n1', deps.clock.now());
    expect(pending?.answers).toEqual({});
    expect(pending?.remaining).toBe(2);
    expect(
      Object.keys(pending?.reads ?? {})
        .map(Number)
        .sort(),
    ).toEqual([a.transId, b.transId].sort());
  });

  test("another client's answer to n1's request matches nothing", async () => {
    const [a, b] = await startRegistration();
    await send('n2', { transId: a.transId, cmdId: 0, status: 205, data: treeOf(a.oid) });
    await send('n2', { transId: b.transId, cmdId: 0, status: 205, data: treeOf(b.oid) });
    expect(deps.publisher.published.filter((p) => p.topic !== 'request/n1')).toEqual([]);
    expect(await device('n1')).toBeNull();
    expect(await device('n2')).toBeNull();
  });

  test('a response from a client with nothing pending is dropped', async () => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(5_000);
    await expect(send('n1', { transId: 9, cmdId: 0, status: 205, data: {} })).resolves.toBeUndefined();
    expect(deps.publisher.published).toEqual([]);
    expect(deps.events.events).toEqual([]);
    expect(await device('n1')).toEqual(before);
  });
});

describe('malformed input: never answered, never thrown, nothing changed', () => {
  test.each(malformedPayloads({ transId: 70, cmdId: 0, status: 205, data: { '0': { '5700': 1 } } }))('%s', async (_name, raw) => {
    const before = await registerDevice(deps, 'n1');
    deps.clock.advance(5_000);
    await expect(send('n1', raw)).resolves.toBeUndefined();
    expect(deps.publisher.published).toEqual([]);
    expect(deps.events.events).toEqual([]);
    expect(await device('n1')).toEqual(before);
    expect(prototypeIsClean()).toBe(true);
  });

  test.each([
    ['a status out of range', { cmdId: 0, status: 2050 }],
    ['a cmdId out of range', { cmdId: 256, status: 205 }],
    ['a status as a string', { cmdId: 0, status: '205' }],
  ])('%s does not complete the pending read', async (_name, fields) => {
    const [a, b] = await startRegistration();
    await send('n1', { transId: a.transId, ...fields, data: treeOf(a.oid) });
    await send('n1', { transId: b.transId, cmdId: 0, status: 205, data: treeOf(b.oid) });
    expect(registerAnswers('n1')).toEqual([]);
    expect(deps.publisher.published.filter((p) => p.topic !== 'request/n1')).toEqual([]);
  });

  test('a read answer holding a number beyond the double range is dropped, not thrown', async () => {
    const [a] = await startRegistration();
    const raw = `{"transId":${a.transId},"cmdId":0,"status":205,"data":{"0":{"5700":1e999}}}`;
    await expect(send('n1', raw)).resolves.toBeUndefined();
    expect((await deps.registrations.get('n1', deps.clock.now()))?.answers).toEqual({});
  });

  test('a spoofed answer cannot complete a registration', async () => {
    const reads = await startRegistration();
    for (const r of reads) await send('n1', { transId: r.transId, cmdId: 0, status: 205, data: treeOf(r.oid) }, 'intruder');
    expect(registerAnswers('n1')).toEqual([]);
    expect(await device('n1')).toBeNull();
    // The real device can still answer.
    await answerReads(deps, 'n1');
    expect(registerAnswers('n1')).toEqual([{ transId: 101, status: 201 }]);
  });

  test.each(foreignTopics('response', 'n1'))('foreign topic %j is dropped', async (topic) => {
    const reads = await startRegistration();
    for (const r of reads) {
      await expect(
        response(message(topic, { transId: r.transId, cmdId: 0, status: 205, data: treeOf(r.oid) }), deps),
      ).resolves.toBeUndefined();
    }
    expect(registerAnswers('n1')).toEqual([]);
  });
});
