import type { ChannelMessage, Deps } from '../shared/deps';
import { receive } from '../shared/ops/inbound';
import { emitEvent } from '../shared/ops/outbound';
import { setStatus } from '../shared/store/device-writes';
import { channelEntry } from './lambda/entries';

/** `lwt/<id>`: the client's MQTT will; whatever its payload, the device is now offline. */
export async function lwt(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('lwt', null, message, deps);
  if (!inbound) return;
  const before = await deps.devices.apply(inbound.clientId, setStatus('offline', ['online', 'sleep'], deps.clock.now()));
  if (before) await emitEvent(deps, 'devStatus', inbound.clientId, 'offline');
}

export const handler = channelEntry('lwt', lwt);
