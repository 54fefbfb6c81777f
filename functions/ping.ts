import type { ChannelMessage, Deps } from '../shared/deps';
import { wakeIfOffline } from '../shared/ops/activity';
import { receive } from '../shared/ops/inbound';
import { respond } from '../shared/ops/outbound';
import { transIdOnlySchema } from '../shared/protocol/schemas';
import { Status } from '../shared/protocol/status';
import { renew } from '../shared/store/device-writes';
import { channelEntry } from './lambda/entries';

/**
 * `ping/<id>`: 200 and a renewed lifetime. An unregistered client gets 404 rather than a 200
 * that would let it believe it is registered.
 */
export async function ping(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('ping', transIdOnlySchema, message, deps);
  if (!inbound) return;
  const { clientId, body } = inbound;
  const before = await deps.devices.apply(clientId, renew(deps.clock.now()));
  await Promise.all([
    respond(deps, 'ping', clientId, body.transId, before ? Status.OK : Status.NotFound),
    wakeIfOffline(deps, clientId, before),
  ]);
}

export const handler = channelEntry('ping', ping);
