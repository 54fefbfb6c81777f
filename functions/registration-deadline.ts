import type { SQSEvent } from 'aws-lambda';
import type { Deps } from '../shared/deps';
import type { Logger } from '../shared/ports';
import { timeOut } from '../shared/ops/registration';
import { clientIdOfKey } from '../shared/store/table/items';
import { depsFromEnv, flushMetrics } from './lambda/runtime';

/**
 * Prompt registration failure in the cloud (docs/DEPLOY.md, "What gets deployed"): a new
 * registration item in the table goes, through the table's stream and a pipe, into a queue that
 * delays every message by the request timeout plus two seconds; this function then receives it
 * and fails the registration (500 to the device) if its reads are still not all answered. The
 * reaper's once-a-minute pass stays as the safety net (a registration that replaced one still
 * reading is not a new item, so only the reaper sees it).
 */

export interface DueRegistration {
  clientId: string;
  regId: string;
}

export async function registrationDeadline(deps: Deps, due: DueRegistration[]): Promise<void> {
  const now = deps.clock.now();
  for (const { clientId, regId } of due) {
    // Still within its time: the queue's delay was too short (it never is); fail the batch so
    // the queue delivers it again after the visibility timeout.
    const live = await deps.registrations.get(clientId, now);
    if (live?.regId === regId) throw new Error(`registration ${regId} of ${clientId} is not due yet`);
    // Claimed only if it is still this registration: one that completed or was replaced stays as it is.
    await timeOut(deps, clientId, regId);
  }
}

/** The registrations in the queue's messages: each body is the stream record the pipe forwarded. */
export function dueRegistrations(event: SQSEvent, log: Logger): DueRegistration[] {
  const due: DueRegistration[] = [];
  for (const record of event.Records) {
    try {
      const image = (JSON.parse(record.body) as { dynamodb: { NewImage: Record<string, { S?: string }> } }).dynamodb.NewImage;
      const pk = image.pk?.S;
      const regId = image.regId?.S;
      if (!pk || !regId) throw new Error('no pk or regId');
      due.push({ clientId: clientIdOfKey(pk), regId });
    } catch (err) {
      // Retrying a message that cannot be read would not help: the reaper still covers it.
      log.error({ messageId: record.messageId, err: String(err) }, 'registration deadline: unreadable message');
    }
  }
  return due;
}

/** SQS event source entry. */
export async function handler(event: SQSEvent): Promise<void> {
  const deps = await depsFromEnv();
  try {
    await registrationDeadline(deps, dueRegistrations(event, deps.log));
  } finally {
    flushMetrics();
  }
}
