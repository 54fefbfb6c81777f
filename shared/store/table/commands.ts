import { TRANS_IDS, withFreeTransIds } from '../../protocol/trans-ids';
import type { Clock } from '../../ports';
import type { PendingCommands } from '../commands';
import { toSeconds, type CommandAnswer, type PendingRequest } from '../model';
import { storableProblem } from '../storable';
import type { Table } from './client';
import { isConditionFailure, requestKey, stripKeys } from './items';

/** A slot (clientId, cmdId, transId) is free when no request still pending holds it. */
const SLOT_IS_FREE = 'attribute_not_exists(pk) OR expiresAt < :now';
/** A request is answered once, while someone still waits for it. */
const AWAITS_ANSWER = 'attribute_exists(pk) AND attribute_not_exists(answer) AND expiresAt >= :now';

/**
 * When a waiting call reads its request item again, in ms after it was sent: the gaps double
 * for the first four reads (25, 75, 175, 375 ms: a device that answers within a few hundred ms
 * is seen as soon as before), then grow by 1.6 (a silent device costs 11 reads over 10 s
 * instead of 43), and the last read is at the deadline. `maxGapMs` caps a gap (tests).
 */
export function pollTimes(timeoutMs: number, firstGapMs = 25, maxGapMs = Infinity): number[] {
  const times: number[] = [];
  let at = 0;
  let gap = firstGapMs;
  while (at + gap < timeoutMs) {
    at += gap;
    times.push(at);
    gap = Math.min(maxGapMs, gap < 8 * firstGapMs ? gap * 2 : Math.round(gap * 1.6));
  }
  times.push(timeoutMs);
  return times;
}

/**
 * Pending commands as table items, for the cloud, where the response arrives in another
 * invocation: the response handler records the answer on the item and the waiting API call
 * reads it at `pollTimes`, bounded by the request timeout (the one poll the design allows),
 * then removes the answered item rather than leave it to TTL.
 */
export class TablePendingCommands implements PendingCommands {
  constructor(
    private readonly table: Pick<Table, 'doc' | 'name'>,
    private readonly clock: Clock,
    private readonly firstGapMs = 25,
    private readonly maxGapMs = Infinity,
  ) {}

  open(req: Omit<PendingRequest, 'transId'>): Promise<PendingRequest> {
    const now = this.clock.now();
    return withFreeTransIds(TRANS_IDS.commands, 1, 16, async (transId) => {
      const candidate: PendingRequest = { ...req, transId };
      try {
        await this.table.doc.put({
          TableName: this.table.name,
          Item: { ...requestKey(req.clientId, req.cmdId, transId), ...candidate },
          ConditionExpression: SLOT_IS_FREE,
          ExpressionAttributeValues: { ':now': toSeconds(now) },
        });
        return candidate;
      } catch (err) {
        if (isConditionFailure(err)) return undefined;
        throw err;
      }
    });
  }

  async wait(req: PendingRequest, timeoutMs: number): Promise<CommandAnswer | null> {
    const started = this.clock.now();
    for (const at of pollTimes(timeoutMs, this.firstGapMs, this.maxGapMs)) {
      const wait = started + at - this.clock.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const out = await this.table.doc.get({
        TableName: this.table.name,
        Key: requestKey(req.clientId, req.cmdId, req.transId),
        ConsistentRead: true,
      });
      const current = out.Item as PendingRequest | undefined;
      if (current?.answer) {
        // Answered once (AWAITS_ANSWER): nobody needs the item any more.
        await this.close(req);
        return current.answer;
      }
    }
    return null;
  }

  async close(req: PendingRequest): Promise<void> {
    await this.table.doc.delete({ TableName: this.table.name, Key: requestKey(req.clientId, req.cmdId, req.transId) });
  }

  async claim(
    clientId: string,
    cmdId: number,
    transId: number,
    answer: CommandAnswer,
    nowMs: number,
  ): Promise<PendingRequest | null> {
    // Data the table cannot hold (a number beyond DynamoDB's range...) is left out: the request
    // is still answered exactly once and the caller still has the data as sent.
    const kept = answer.data !== undefined && storableProblem(answer.data) ? { status: answer.status } : answer;
    try {
      const out = await this.table.doc.update({
        TableName: this.table.name,
        Key: requestKey(clientId, cmdId, transId),
        UpdateExpression: 'SET answer = :a',
        ConditionExpression: AWAITS_ANSWER,
        ExpressionAttributeValues: { ':a': kept, ':now': toSeconds(nowMs) },
        ReturnValues: 'ALL_NEW',
      });
      return stripKeys(out.Attributes as PendingRequest);
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  settle(): void {
    // The waiting call polls the item: recording the answer in `claim` was the settling.
  }
}
