import type { SQSEvent } from 'aws-lambda';
import { register } from '../../functions/register';
import { dueRegistrations, registrationDeadline } from '../../functions/registration-deadline';
import { answerReads, registerBody } from '../helpers/devices';
import { makeDeps, message, silentLog, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';

/** The registration-deadline function (cloud only): what it does with a registration the delay queue hands it. */
let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

async function startRegistration(id: string, transId: number): Promise<string> {
  await register(message(`register/${id}`, registerBody({ transId })), deps);
  const pending = await deps.registrations.get(id, deps.clock.now());
  if (!pending) throw new Error('no registration in progress');
  return pending.regId;
}

test('an overdue registration gets its 500, once', async () => {
  const regId = await startRegistration('n1', 3);
  deps.clock.advance(12_000);
  await registrationDeadline(deps, [{ clientId: 'n1', regId }]);
  await registrationDeadline(deps, [{ clientId: 'n1', regId }]); // the queue may deliver twice
  expect(deps.publisher.on('register/response/n1')).toEqual([{ transId: 3, status: 500 }]);
  expect(await deps.registrations.get('n1', 0)).toBeNull();
});

test('a registration still within its time is not failed: the invocation fails, so the queue delivers it again', async () => {
  const regId = await startRegistration('n1', 3);
  deps.clock.advance(5_000);
  await expect(registrationDeadline(deps, [{ clientId: 'n1', regId }])).rejects.toThrow(/not due yet/);
  expect(deps.publisher.on('register/response/n1')).toEqual([]);
});

test('a registration that completed is left alone: the device keeps its 201', async () => {
  const regId = await startRegistration('n1', 3);
  await answerReads(deps, 'n1');
  expect(deps.publisher.on('register/response/n1')).toEqual([{ transId: 3, status: 201 }]);
  deps.clock.advance(12_000);
  await registrationDeadline(deps, [{ clientId: 'n1', regId }]);
  expect(deps.publisher.on('register/response/n1')).toEqual([{ transId: 3, status: 201 }]);
  expect(await deps.devices.get('n1', deps.clock.now())).not.toBeNull();
});

test('a registration replaced by a newer one is not failed for the older one', async () => {
  const first = await startRegistration('n1', 3);
  deps.clock.advance(12_000);
  await startRegistration('n1', 4);
  await registrationDeadline(deps, [{ clientId: 'n1', regId: first }]);
  expect(deps.publisher.on('register/response/n1')).toEqual([]);
});

test('the queue messages are the stream records the pipe forwarded; an unreadable one is skipped', () => {
  const record = (body: string) => ({ messageId: 'm', body }) as SQSEvent['Records'][number];
  const stream = {
    eventName: 'INSERT',
    dynamodb: { NewImage: { pk: { S: 'd#node-7' }, sk: { S: 'discovery' }, regId: { S: 'r-1' } } },
  };
  const errors: unknown[] = [];
  const log = { ...silentLog, error: (obj: object) => void errors.push(obj) };
  expect(
    dueRegistrations({ Records: [record(JSON.stringify(stream)), record('not json'), record('{"dynamodb":{}}')] }, log),
  ).toEqual([{ clientId: 'node-7', regId: 'r-1' }]);
  expect(errors).toHaveLength(2);
});
