import type { ChannelMessage, Deps } from '../shared/deps';
import { wakeIfOffline } from '../shared/ops/activity';
import { receive } from '../shared/ops/inbound';
import { emitEvent, respond } from '../shared/ops/outbound';
import { changedResources, normalizeInstance } from '../shared/ops/tree';
import { normalizeIid, normalizeOid, normalizeRid, wireId } from '../shared/protocol/ids';
import { notifySchema } from '../shared/protocol/schemas';
import { Status } from '../shared/protocol/status';
import { storeNotification } from '../shared/store/device-writes';
import { RejectedValueError } from '../shared/store/storable';
import { channelEntry } from './lambda/entries';

/**
 * `notify/<id>`: one conditional write stores the value(s) and renews the lifetime; 404 when
 * the client, object, instance or resource is not in the registry. No read on this path.
 */
export async function notify(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('notify', notifySchema, message, deps);
  if (!inbound) return;
  const { clientId, body } = inbound;
  const answer = (status: number) => respond(deps, 'notify', clientId, body.transId, status);
  const oid = normalizeOid(body.oid);
  const iid = normalizeIid(body.iid);
  const rid = body.rid === undefined ? undefined : normalizeRid(oid, body.rid);
  const values = rid === undefined ? normalizeInstance(oid, body.data as Record<string, unknown>) : { [rid]: body.data };

  let before;
  try {
    before = await deps.devices.apply(clientId, storeNotification(oid, iid, values, deps.clock.now()));
  } catch (err) {
    if (err instanceof RejectedValueError) return answer(Status.BadRequest);
    throw err;
  }
  if (!before) return answer(Status.NotFound);

  const changed = changedResources(before.objects?.[oid]?.[iid], values);
  const where = { oid: wireId(oid), iid: wireId(iid), ...(rid !== undefined ? { rid: wireId(rid) } : {}) };
  await Promise.all([
    answer(Status.Changed),
    emitEvent(deps, 'devNotify', clientId, { ...where, data: body.data }),
    Object.keys(changed).length > 0
      ? emitEvent(deps, 'devChange', clientId, { ...where, data: rid !== undefined ? changed[rid] : changed })
      : undefined,
    wakeIfOffline(deps, clientId, before),
  ]);
}

export const handler = channelEntry('notify', notify);
