import { toSeconds, type CommandAnswer, type PendingRegistration } from '../model';
import type { RegistrationStore } from '../registrations';
import { assertStorable } from '../storable';
import type { Table } from './client';
import { EXPIRY_INDEX } from './definition';
import { indexPages } from './index-query';
import {
  clientIdOfKey,
  indexPartition,
  indexSortValue,
  isConditionFailure,
  registrationKey,
  rejectedIfTooLarge,
  stripKeys,
} from './items';

/**
 * A registration may replace the client's earlier one unless that is this very message's, still
 * running; a registration may always replace itself (its transIds are drawn again).
 */
const NOT_THIS_MESSAGE_RUNNING =
  'attribute_not_exists(pk) OR #expiresAt < :now OR #clientTransId <> :t OR #purpose <> :p OR #regId = :r';
/** An answer counts once, for a read this registration sent, while it has not timed out. */
const READ_AWAITS_ANSWER = 'attribute_exists(#reads.#t) AND attribute_not_exists(#answers.#t) AND #expiresAt >= :now';
/** Only the registration the caller saw may be taken out (a newer one replaced it otherwise). */
const SAME_REGISTRATION = 'regId = :regId';

/** Registrations in progress as items of the table, for runtimes where answers come to other processes. */
export class TableRegistrationStore implements RegistrationStore {
  constructor(private readonly table: Table) {}

  async start(r: PendingRegistration, nowMs: number): Promise<{ replaced?: PendingRegistration } | 'running'> {
    try {
      const out = await this.table.doc.put({
        TableName: this.table.name,
        Item: {
          ...registrationKey(r.clientId),
          ...r,
          kind: await indexPartition('r', r.clientId, this.table.shards),
          dueAt: indexSortValue(r.clientId, r.expiresAt),
        },
        ConditionExpression: NOT_THIS_MESSAGE_RUNNING,
        ExpressionAttributeNames: {
          '#purpose': 'purpose',
          '#expiresAt': 'expiresAt',
          '#clientTransId': 'clientTransId',
          '#regId': 'regId',
        },
        ExpressionAttributeValues: { ':now': toSeconds(nowMs), ':t': r.clientTransId, ':p': r.purpose, ':r': r.regId },
        ReturnValues: 'ALL_OLD',
      });
      return { replaced: out.Attributes ? stripKeys(out.Attributes as PendingRegistration) : undefined };
    } catch (err) {
      if (isConditionFailure(err)) return 'running';
      throw err;
    }
  }

  async get(clientId: string, nowMs: number): Promise<PendingRegistration | null> {
    const out = await this.table.doc.get({ TableName: this.table.name, Key: registrationKey(clientId), ConsistentRead: true });
    const r = out.Item as PendingRegistration | undefined;
    return r && r.expiresAt >= toSeconds(nowMs) ? stripKeys(r) : null;
  }

  async recordAnswer(clientId: string, transId: number, answer: CommandAnswer, nowMs: number): Promise<PendingRegistration | null> {
    assertStorable(answer);
    try {
      const out = await this.table.doc.update({
        TableName: this.table.name,
        Key: registrationKey(clientId),
        UpdateExpression: 'SET #answers.#t = :a, #remaining = #remaining - :one',
        ConditionExpression: READ_AWAITS_ANSWER,
        ExpressionAttributeNames: {
          '#t': String(transId),
          '#answers': 'answers',
          '#reads': 'reads',
          '#remaining': 'remaining',
          '#expiresAt': 'expiresAt',
        },
        ExpressionAttributeValues: { ':a': answer, ':one': 1, ':now': toSeconds(nowMs) },
        ReturnValues: 'ALL_NEW',
      });
      return stripKeys(out.Attributes as PendingRegistration);
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw rejectedIfTooLarge(err);
    }
  }

  async claim(clientId: string, regId: string): Promise<PendingRegistration | null> {
    try {
      const out = await this.table.doc.delete({
        TableName: this.table.name,
        Key: registrationKey(clientId),
        ConditionExpression: SAME_REGISTRATION,
        ExpressionAttributeValues: { ':regId': regId },
        ReturnValues: 'ALL_OLD',
      });
      return out.Attributes ? stripKeys(out.Attributes as PendingRegistration) : null;
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  async *overdue(nowMs: number, pageSize: number): AsyncIterable<Array<{ clientId: string; regId: string }>> {
    const query = { index: EXPIRY_INDEX, kind: 'r', hashAttr: 'kind', rangeAttr: 'dueAt', attributes: ['pk', 'regId'] } as const;
    for await (const items of indexPages(this.table, { ...query, below: toSeconds(nowMs) }, pageSize)) {
      yield items.map((i) => ({ clientId: clientIdOfKey(i.pk), regId: String(i.regId) }));
    }
  }
}
