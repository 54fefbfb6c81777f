import type { ChannelMessage, Deps } from '../shared/deps';
import { wakeIfOffline } from '../shared/ops/activity';
import { onCommandAnswer } from '../shared/ops/commands';
import { isDiscoveryRead, onDiscoveryAnswer } from '../shared/ops/discovery';
import { receive } from '../shared/ops/inbound';
import { responseSchema } from '../shared/protocol/schemas';
import type { PendingRequest } from '../shared/store/model';
import { RejectedValueError } from '../shared/store/registry';
import { channelEntry } from './lambda/runtime';

/**
 * `response/<id>`: a device answers a server request. The answer is recorded on its pending
 * request exactly once; a late or repeated answer, or one nobody asked for, is dropped quietly.
 */
export async function response(message: ChannelMessage, deps: Deps): Promise<void> {
  const inbound = await receive('response', responseSchema, message, deps);
  if (!inbound) return;
  const { clientId, body } = inbound;
  const now = deps.clock.now();
  const answer = body.data === undefined ? { status: body.status } : { status: body.status, data: body.data };
  if (isDiscoveryRead(body.cmdId, body.transId)) {
    if (!(await onDiscoveryAnswer(deps, clientId, body.transId, answer))) dropped(deps, clientId, body);
    return;
  }
  // A command waiting in this process (local stack) is taken from memory; anything else is
  // claimed on its pending request in the table.
  const req = deps.waiters?.take(clientId, body.cmdId, body.transId) ?? (await claim(deps, clientId, body, answer, now));
  if (!req) return dropped(deps, clientId, body);
  // An answer is activity: a read/write result's tree write renews the lifetime already.
  const renewed = await onCommandAnswer(deps, req, answer);
  const before = renewed ?? (await deps.store.updateDevice(clientId, {}, now));
  await wakeIfOffline(deps, clientId, before);
}

function dropped(deps: Deps, clientId: string, body: { cmdId: number; transId: number }): void {
  deps.log.debug({ clientId, cmdId: body.cmdId, transId: body.transId }, 'dropped a response nobody waits for');
}

async function claim(
  deps: Deps,
  clientId: string,
  body: { cmdId: number; transId: number; status: number },
  answer: { status: number; data?: unknown },
  now: number,
): Promise<PendingRequest | null> {
  try {
    return await deps.store.answerRequest(clientId, body.cmdId, body.transId, answer, now);
  } catch (err) {
    if (!(err instanceof RejectedValueError)) throw err;
    // The store cannot hold the data (a number beyond DynamoDB's range...). Claim the request
    // with the status alone, so it is answered exactly once and the handler does not fail (and
    // get retried forever, stalling the device's later messages); the flows below still get
    // the answer as sent and deal with the data they cannot store.
    deps.log.warn({ clientId, cmdId: body.cmdId, transId: body.transId, reason: err.message }, 'answer data not storable');
    return deps.store.answerRequest(clientId, body.cmdId, body.transId, { status: body.status }, now);
  }
}

export const handler = channelEntry(response);
