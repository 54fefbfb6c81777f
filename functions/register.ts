import { emitEvent, respond, type ChannelMessage, type Deps } from '../shared/deps';
import { changedAttributes } from '../shared/ops/activity';
import { startDiscovery } from '../shared/ops/discovery';
import { receive } from '../shared/ops/inbound';
import { canonicalObjList, sameObjList } from '../shared/protocol/objlist';
import { registerSchema } from '../shared/protocol/schemas';
import { Status } from '../shared/protocol/status';
import type { DeviceItem } from '../shared/store/model';
import { channelEntry } from './lambda/runtime';

/** `register/<id>`: 201 new, 200 same device again, 401 join closed, 409 another mac, 400 bad. */
export async function register(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('register', registerSchema, message, deps);
  if (!inbound) return;
  const { clientId, body } = inbound;
  const answer = (status: number) => respond(deps, 'register', clientId, body.transId, status);
  const objList = canonicalObjList(body.objList);
  const attrs = {
    lifetime: body.lifetime ?? deps.config.defaultLifetime,
    ip: body.ip,
    mac: body.mac.toLowerCase(),
    version: body.version ?? '',
  };
  const now = deps.clock.now();
  const known = await deps.store.getDevice(clientId, now);

  if (known) {
    if (known.mac !== attrs.mac) return answer(Status.Conflict);
    if (isRedelivery(known, body.transId, now)) {
      // The broker or Lambda delivered the same register again: same answer, no second devIncoming.
      deps.log.debug({ clientId, transId: body.transId }, 'register redelivered after it completed');
      return answer(Status.Created);
    }
    if (!sameObjList(known.objList, objList)) {
      return startDiscovery(deps, { clientId, purpose: 'reregister', clientTransId: body.transId, attrs, changed: [], objList });
    }
    const { mac: _mac, ...renewable } = attrs;
    const before = await deps.store.updateDevice(clientId, { ...renewable, status: 'online' }, now, { wakeBy: null });
    if (before) {
      const changed = changedAttributes(before, renewable);
      await Promise.all([
        answer(Status.OK),
        Object.keys(changed).length > 0 ? emitEvent(deps, 'devUpdate', clientId, changed) : undefined,
        before.status !== 'online' ? emitEvent(deps, 'devStatus', clientId, 'online') : undefined,
      ]);
      return;
    }
    // Expired or removed between the read and the write: it registers as a new client.
  }

  if (deps.config.join === 'permit' && (await deps.store.getJoinUntilMs()) <= now) {
    return answer(Status.Unauthorized);
  }
  await startDiscovery(deps, { clientId, purpose: 'register', clientTransId: body.transId, attrs, changed: [], objList });
}

// Reference clients count transIds modulo 256, so a match only means "the same message" briefly.
const REDELIVERY_WINDOW_MS = 60_000;

function isRedelivery(known: DeviceItem, transId: number, nowMs: number): boolean {
  return known.regTransId === transId && nowMs - known.joinTime * 1000 < REDELIVERY_WINDOW_MS;
}

export const handler = channelEntry(register);
