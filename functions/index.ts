import type { ChannelMessage, Deps } from '../shared/deps';
import type { ClientChannel } from '../shared/protocol/topics';
import { deregister } from './deregister';
import { lwt } from './lwt';
import { notify } from './notify';
import { ping } from './ping';
import { register } from './register';
import { response } from './response';
import { schedule } from './schedule';
import { update } from './update';

export type ChannelHandler = (message: ChannelMessage, deps: Deps) => Promise<void>;

/** One handler per client channel: what a topic rule invokes in the cloud, what the bridge calls locally. */
export const CHANNEL_HANDLERS: Record<ClientChannel, ChannelHandler> = {
  register,
  deregister,
  update,
  ping,
  notify,
  schedule,
  lwt,
  response,
};
