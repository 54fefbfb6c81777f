import { emitEvent, respond, type ChannelMessage, type Deps } from '../shared/deps';
import { changedAttributes, wakeIfOffline } from '../shared/ops/activity';
import { startDiscovery } from '../shared/ops/discovery';
import { receive } from '../shared/ops/inbound';
import { canonicalObjList } from '../shared/protocol/objlist';
import { updateSchema } from '../shared/protocol/schemas';
import { Status } from '../shared/protocol/status';
import { channelEntry } from './lambda/runtime';

/** `update/<id>`: 204 changed, 400 bad/unknown field, 404 not registered, 409 other mac. */
export async function update(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('update', updateSchema, message, deps);
  if (!inbound) return;
  const { clientId, body } = inbound;
  const answer = (status: number) => respond(deps, 'update', clientId, body.transId, status);
  const now = deps.clock.now();
  const known = await deps.store.getDevice(clientId, now);
  if (!known) return answer(Status.NotFound);
  if (body.mac !== undefined && body.mac.toLowerCase() !== known.mac) return answer(Status.Conflict);

  const changes = { lifetime: body.lifetime, ip: body.ip, version: body.version };
  if (body.objList !== undefined) {
    // A new objList replaces the whole tree: the objects are read again before the answer.
    return startDiscovery(deps, {
      clientId,
      purpose: 'update',
      clientTransId: body.transId,
      attrs: {
        lifetime: body.lifetime ?? known.lifetime,
        ip: body.ip ?? known.ip,
        mac: known.mac,
        version: body.version ?? known.version,
      },
      changed: ['lifetime', 'ip', 'version', 'objList'].filter((k) => body[k as keyof typeof body] !== undefined),
      objList: canonicalObjList(body.objList),
    });
  }
  const before = await deps.store.updateDevice(clientId, changes, now);
  if (!before) return answer(Status.NotFound);
  const changed = changedAttributes(before, changes);
  await Promise.all([
    answer(Status.Changed),
    Object.keys(changed).length > 0 ? emitEvent(deps, 'devUpdate', clientId, changed) : undefined,
    wakeIfOffline(deps, clientId, before),
  ]);
}

export const handler = channelEntry(update);
