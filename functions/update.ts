import type { ChannelMessage, Deps } from '../shared/deps';
import { receive } from '../shared/ops/inbound';
import { update as updateDevice } from '../shared/ops/registration';
import { updateSchema } from '../shared/protocol/schemas';
import { channelEntry } from './lambda/entries';

/**
 * `update/<id>`: 204 changed, 400 bad or unknown field, 404 not registered, 409 other mac, 500
 * when a new objList's objects could not be read. Decided in shared/ops/registration.ts.
 */
export async function update(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('update', updateSchema, message, deps);
  if (inbound) await updateDevice(deps, inbound.clientId, inbound.body);
}

export const handler = channelEntry('update', update);
