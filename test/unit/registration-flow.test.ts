import { register } from '../../functions/register';
import { response } from '../../functions/response';
import { notify } from '../../functions/notify';
import { reaper } from '../../functions/reaper';
import { makeDeps, message, startTestStore, type TestDeps, type TestStore } from '../helpers/recorder';

let store: TestStore;
let deps: TestDeps;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());
beforeEach(async () => (deps = await makeDeps(store)));

const REGISTER = {
  transId: 101,
  lifetime: 600,
  objList: { '1': [0], '3303': [0] },
  ip: '127.0.0.1',
  mac: 'AA:BB:CC:00:00:01',
  version: '0.0.1',
};

async function answerReads(clientId: string, trees: Record<string, unknown>, status = 205) {
  for (const req of deps.publisher.on(`request/${clientId}`)) {
    await response(message(`response/${clientId}`, { transId: req.transId, cmdId: 0, status, data: trees[req.oid] }), deps);
  }
}

test('a new client is read object by object, then answered 201 with its tree stored', async () => {
  await register(message('register/node-1', REGISTER), deps);
  const reads = deps.publisher.on('request/node-1');
  expect(reads.map((r) => [r.cmdId, r.oid]).sort()).toEqual([
    [0, 1],
    [0, 3303],
  ]);
  expect(deps.publisher.on('register/response/node-1')).toEqual([]);
  expect(await deps.devices.get('node-1', deps.clock.now())).toBeNull();

  await answerReads('node-1', {
    1: { '0': { shortServerId: null, lifetime: 600 } },
    3303: { '0': { sensorValue: 21.5, units: 'C' } },
  });
  expect(deps.publisher.on('register/response/node-1')).toEqual([{ transId: 101, status: 201 }]);
  const device = await deps.devices.get('node-1', deps.clock.now());
  expect(device?.mac).toBe('aa:bb:cc:00:00:01');
  expect(device?.objList).toEqual({ '1': [0], '3303': [0] });
  expect(device?.objects).toEqual({ '1': { '0': { '0': null, '1': 600 } }, '3303': { '0': { '5700': 21.5, '5701': 'C' } } });
  expect(deps.events.of('devIncoming')).toHaveLength(1);

  await notify(message('notify/node-1', { transId: 5, oid: 3303, iid: 0, rid: 5700, data: 30 }), deps);
  expect(deps.publisher.on('notify/response/node-1')).toEqual([{ transId: 5, status: 204 }]);
  expect(deps.events.of('devChange')[0].data).toEqual({ oid: 3303, iid: 0, rid: 5700, data: 30 });
  const after = await deps.devices.get('node-1', deps.clock.now());
  expect(after?.objects['3303']['0']['5700']).toBe(30);
});

test('a registration whose reads never come back is failed by the reaper and leaves nothing', async () => {
  await register(message('register/node-2', REGISTER), deps);
  deps.clock.advance(12_000);
  const report = await reaper(deps);
  expect(report.failedRegistrations).toEqual(['node-2']);
  expect(deps.publisher.on('register/response/node-2')).toEqual([{ transId: 101, status: 500 }]);
  await answerReads('node-2', { 1: { '0': {} }, 3303: { '0': {} } });
  expect(deps.publisher.on('register/response/node-2')).toHaveLength(1);
  expect(await deps.devices.get('node-2', deps.clock.now())).toBeNull();
});

test('a register delivered again after it completed gets the same 201 and no second devIncoming', async () => {
  await register(message('register/node-3', REGISTER), deps);
  await answerReads('node-3', { 1: { '0': { lifetime: 600 } }, 3303: { '0': { sensorValue: 1 } } });
  const readsBefore = deps.publisher.on('request/node-3').length;
  await register(message('register/node-3', REGISTER), deps);
  expect(deps.publisher.on('register/response/node-3')).toEqual([
    { transId: 101, status: 201 },
    { transId: 101, status: 201 },
  ]);
  expect(deps.publisher.on('request/node-3')).toHaveLength(readsBefore);
  expect(deps.events.of('devIncoming')).toHaveLength(1);
  // A later register of the same device (a new transId) is a re-registration: 200.
  await register(message('register/node-3', { ...REGISTER, transId: 102 }), deps);
  expect(deps.publisher.on('register/response/node-3').at(-1)).toEqual({ transId: 102, status: 200 });
});
