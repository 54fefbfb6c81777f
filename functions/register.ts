import type { ChannelMessage, Deps } from '../shared/deps';
import { receive } from '../shared/ops/inbound';
import { register as registerDevice } from '../shared/ops/registration';
import { registerSchema } from '../shared/protocol/schemas';
import { channelEntry } from './lambda/entries';

/**
 * `register/<id>`: 201 new, 200 same device again, 401 join closed, 409 another mac, 400 bad,
 * 500 when its objects could not be read. Each status is decided in shared/ops/registration.ts.
 */
export async function register(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('register', registerSchema, message, deps);
  if (inbound) await registerDevice(deps, inbound.clientId, inbound.body);
}

export const handler = channelEntry('register', register);
