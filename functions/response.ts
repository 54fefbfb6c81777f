import type { ChannelMessage, Deps } from '../shared/deps';
import { wakeIfOffline } from '../shared/ops/activity';
import { onCommandAnswer } from '../shared/ops/commands';
import { receive } from '../shared/ops/inbound';
import { onReadAnswer } from '../shared/ops/registration';
import { RESPONSE_FIELDS, responseSchema } from '../shared/protocol/schemas';
import { isRegistrationRead } from '../shared/protocol/trans-ids';
import { renew } from '../shared/store/device-writes';
import type { CommandAnswer } from '../shared/store/model';
import { channelEntry } from './lambda/entries';

/**
 * `response/<id>`: a device answers a server request, either one of its registration's object
 * reads or a command. Each is taken exactly once; a late or repeated answer, or one nobody asked
 * for, is dropped quietly. Fields the protocol does not define are dropped (and logged).
 */
export async function response(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('response', responseSchema, message, deps);
  if (!inbound) return;
  const { clientId, body } = inbound;
  const unknown = Object.keys(body).filter((k) => !(RESPONSE_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) deps.log.warn({ clientId, fields: unknown.slice(0, 8) }, 'dropped unknown fields of a response');
  const now = deps.clock.now();
  const answer: CommandAnswer = body.data === undefined ? { status: body.status } : { status: body.status, data: body.data };
  if (isRegistrationRead(body.cmdId, body.transId)) {
    if (!(await onReadAnswer(deps, clientId, body.transId, answer))) dropped(deps, clientId, body);
    return;
  }
  const req = await deps.commands.claim(clientId, body.cmdId, body.transId, answer, now);
  if (!req) return dropped(deps, clientId, body);
  // An answer is activity: a read/write result's tree write renews the lifetime already.
  const renewed = await onCommandAnswer(deps, req, answer);
  const before = renewed ?? (await deps.devices.apply(clientId, renew(now)));
  await wakeIfOffline(deps, clientId, before);
}

function dropped(deps: Deps, clientId: string, body: { cmdId: number; transId: number }): void {
  deps.log.debug({ clientId, cmdId: body.cmdId, transId: body.transId }, 'dropped a response nobody waits for');
}

export const handler = channelEntry('response', response);
