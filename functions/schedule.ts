import type { ChannelMessage, Deps } from '../shared/deps';
import { receive } from '../shared/ops/inbound';
import { emitEvent, respond } from '../shared/ops/outbound';
import { scheduleSchema } from '../shared/protocol/schemas';
import { Status } from '../shared/protocol/status';
import { changeDevice } from '../shared/store/device-writes';
import { channelEntry } from './lambda/entries';

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
  const wake = body.sleep && body.duration !== undefined ? { wakeBy: Math.ceil((now + body.duration * 1000) / 1000) } : 'clear';
  const before = await deps.devices.apply(clientId, changeDevice({ status }, now, wake));
  if (!before) return respond(deps, 'schedule', clientId, body.transId, Status.NotFound);
  await Promise.all([
    respond(deps, 'schedule', clientId, body.transId, Status.OK),
    before.status !== status ? emitEvent(deps, 'devStatus', clientId, status) : undefined,
  ]);
}

export const handler = channelEntry('schedule', schedule);
