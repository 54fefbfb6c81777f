import type { ChannelMessage, Deps } from '../shared/deps';
import { receive } from '../shared/ops/inbound';
import { emitEvent, respond } from '../shared/ops/outbound';
import { transIdOnlySchema } from '../shared/protocol/schemas';
import { Status } from '../shared/protocol/status';
import { channelEntry } from './lambda/entries';

/** `deregister/<id>`: 202 removed, 404 not registered. */
export async function deregister(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('deregister', transIdOnlySchema, message, deps);
  if (!inbound) return;
  const { clientId, body } = inbound;
  const removed = await deps.devices.remove(clientId, deps.clock.now());
  if (!removed) return respond(deps, 'deregister', clientId, body.transId, Status.NotFound);
  await Promise.all([
    respond(deps, 'deregister', clientId, body.transId, Status.Deleted),
    emitEvent(deps, 'devLeaving', clientId, removed.mac),
  ]);
}

export const handler = channelEntry('deregister', deregister);
