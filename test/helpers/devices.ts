import { register } from '../../functions/register';
import { response } from '../../functions/response';
import type { DeviceItem } from '../../shared/store/model';
import { message, type TestDeps } from './recorder';

/**
 * Shared fixtures for the handler unit tests: a standard register body, the object trees a
 * device answers its reads with (resource *names*, as the reference client sends them), and a
 * helper that runs the whole registration flow so a test can start from a registered device.
 */
export const MAC = 'AA:BB:CC:00:00:01';

export function registerBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    transId: 101,
    lifetime: 600,
    ip: '127.0.0.1',
    mac: MAC,
    version: '0.0.1',
    objList: { '1': [0], '3303': [0, 1] },
    ...overrides,
  };
}

/** Read results keyed by oid, as the device would answer `request/<id>` cmdId 0. */
export const TREES: Record<string, unknown> = {
  '1': { '0': { shortServerId: 1, lifetime: 600 } },
  '3': { '0': { manuf: 'lwmqn', model: 't1' } },
  '3303': { '0': { sensorValue: 21.5, units: 'C' }, '1': { sensorValue: 19, units: 'C' } },
};

/** The same trees as the server must store them: numeric ids only. */
export const STORED: Record<string, Record<string, Record<string, unknown>>> = {
  '1': { '0': { '0': 1, '1': 600 } },
  '3': { '0': { '0': 'lwmqn', '1': 't1' } },
  '3303': { '0': { '5700': 21.5, '5701': 'C' }, '1': { '5700': 19, '5701': 'C' } },
};

const answered = new WeakSet<object>();

/** Answers every read published on `request/<clientId>` that was not answered yet. */
export async function answerReads(
  deps: TestDeps,
  clientId: string,
  trees: Record<string, unknown> = TREES,
  status = 205,
): Promise<number> {
  let count = 0;
  for (const p of deps.publisher.published.filter((x) => x.topic === `request/${clientId}`)) {
    if (answered.has(p)) continue;
    answered.add(p);
    const req = p.json();
    const data = trees[String(req.oid)];
    await response(message(`response/${clientId}`, { transId: req.transId, cmdId: 0, status, data }), deps);
    count++;
  }
  return count;
}

/** Registers `clientId` through the full flow (register, reads, 201) and clears the recorders. */
export async function registerDevice(
  deps: TestDeps,
  clientId: string,
  overrides: Record<string, unknown> = {},
): Promise<DeviceItem> {
  await register(message(`register/${clientId}`, registerBody(overrides)), deps);
  await answerReads(deps, clientId);
  const answers = deps.publisher.on(`register/response/${clientId}`);
  if (answers.length !== 1 || answers[0].status !== 201) {
    throw new Error(`registration of ${clientId} failed: ${JSON.stringify(answers)}`);
  }
  deps.publisher.clear();
  deps.events.clear();
  const device = await deps.devices.get(clientId, deps.clock.now());
  if (!device) throw new Error(`${clientId} not stored after 201`);
  return device;
}

export const nowSec = (deps: TestDeps): number => Math.floor(deps.clock.now() / 1000);
