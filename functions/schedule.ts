import { emitEvent, respond, type ChannelMessage, type Deps } from '../shared/deps';
import { receive } from '../shared/ops/inbound';
import { scheduleSchema } from '../shared/protocol/schemas';
import { Status } from '../shared/protocol/status';
import { channelEntry } from './lambda/runtime';

/**
 * `schedule/<id>`: `{sleep: true, duration?}` puts the device to sleep (offline if it has not
 * woken when the duration ends; the reaper sees to that), `{sleep: false}` wakes it.
 */
export async function schedule(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('schedule', scheduleSchema, message, deps);
  if (!inbound) return;
  const { clientId, body } = inbound;
  const now = deps.clock.now();
  const status = body.sleep ? 'sleep' : 'online';
  const wakeBy = body.sleep && body.duration !== undefined ? Math.ceil((now + body.duration * 1000) / 1000) : null;
  const before = await deps.store.updateDevice(clientId, { status }, now, { wakeBy });
  if (!before) return respond(deps, 'schedule', clientId, body.transId, Status.NotFound);
  await Promise.all([
    respond(deps, 'schedule', clientId, body.transId, Status.OK),
    before.status !== status ? emitEvent(deps, 'devStatus', clientId, status) : undefined,
  ]);
}

export const handler = channelEntry(schedule);
