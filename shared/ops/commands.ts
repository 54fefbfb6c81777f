import { emitEvent, type Deps } from '../deps';
import { wireId } from '../protocol/ids';
import type { Target } from '../protocol/paths';
import { Status } from '../protocol/status';
import { requestTopic } from '../protocol/topics';
import type { PendingRequest } from '../store/model';
import { RejectedValueError } from '../store/registry';
import { allocateRequest } from './requests';
import { changedResources, normalizeInstance, normalizeObjectRead } from './tree';

/** Server-initiated commands (PROTOCOL.md section 4). */
export const CMD = { read: 0, write: 1, discover: 2, writeAttrs: 3, execute: 4, observe: 5, ping: 7 } as const;
export type CommandName = keyof typeof CMD;

export interface CommandAnswer {
  status: number;
  data?: unknown;
}

/** The settling side of the rendezvous: the response handler hands a device's answer over. */
export interface CommandWaiters {
  settle(req: PendingRequest, answer: CommandAnswer): void;
}

/** The waiting side: resolves with the answer, or null when the timeout passed first. */
export interface CommandRendezvous {
  /** Called before the request is published, so no answer can slip past. */
  expect(req: PendingRequest, timeoutMs: number): Promise<CommandAnswer | null>;
}

export class DeviceNotRegistered extends Error {
  override name = 'DeviceNotRegistered';
}

/**
 * Sends one command to a device and waits for its answer, bounded by the request timeout:
 * the pending request is written first, then the waiter is set, then the request goes out.
 */
export async function sendCommand(
  deps: Deps,
  rendezvous: CommandRendezvous,
  clientId: string,
  cmd: CommandName,
  target: Target | null,
  data?: unknown,
): Promise<CommandAnswer> {
  const now = deps.clock.now();
  if (!(await deps.store.getDevice(clientId, now))) throw new DeviceNotRegistered(clientId);
  const cmdId = CMD[cmd];
  const req = await allocateRequest(deps, {
    clientId,
    cmdId,
    purpose: 'command',
    ...(target ?? {}),
    ...(data !== undefined && cmd === 'write' ? { data } : {}),
    expiresAt: Math.ceil((now + deps.config.requestTimeoutMs) / 1000),
  });
  const answered = rendezvous.expect(req, deps.config.requestTimeoutMs);
  const wire: Record<string, unknown> = { transId: req.transId, cmdId };
  if (target) {
    wire.oid = wireId(target.oid);
    if (target.iid !== undefined) wire.iid = wireId(target.iid);
    if (target.rid !== undefined) wire.rid = wireId(target.rid);
  }
  if (data !== undefined) wire.data = data;
  await deps.publisher.publish(requestTopic(clientId), JSON.stringify(wire));
  const answer = await answered;
  if (!answer) {
    await deps.store.deleteRequest(clientId, cmdId, req.transId);
    return { status: Status.Timeout };
  }
  return answer;
}

/**
 * A device's answer to a command: read and write results update the stored tree (and emit
 * `devChange` when something really changed), then the waiting caller is settled.
 */
export async function onCommandAnswer(deps: Deps, req: PendingRequest, answer: CommandAnswer): Promise<void> {
  try {
    await applyToTree(deps, req, answer);
  } catch (err) {
    if (!(err instanceof RejectedValueError)) throw err;
    deps.log.warn({ clientId: req.clientId, reason: err.message }, 'answer not stored');
  } finally {
    deps.waiters?.settle(req, answer);
  }
}

async function applyToTree(deps: Deps, req: PendingRequest, answer: CommandAnswer): Promise<void> {
  const { clientId, oid, iid, rid } = req;
  if (oid === undefined) return;
  let value: unknown;
  if (req.cmdId === CMD.read && answer.status === Status.Content) value = answer.data;
  else if (req.cmdId === CMD.write && answer.status === Status.Changed) value = answer.data ?? req.data;
  else return;
  const now = deps.clock.now();

  if (iid === undefined) {
    const instances = normalizeObjectRead(oid, value);
    if (!instances) return;
    const before = await deps.store.setObject(clientId, oid, instances, now);
    if (!before) return;
    for (const [i, resources] of Object.entries(instances)) {
      await emitChange(deps, clientId, { oid, iid: i }, changedResources(before.objects?.[oid]?.[i], resources));
    }
    return;
  }
  const values =
    rid !== undefined
      ? { [rid]: value }
      : value !== null && typeof value === 'object' && !Array.isArray(value)
        ? normalizeInstance(oid, value as Record<string, unknown>)
        : null;
  if (!values) return;
  const before = await deps.store.setResources(clientId, oid, iid, values, now, true);
  if (before) await emitChange(deps, clientId, { oid, iid, rid }, changedResources(before.objects?.[oid]?.[iid], values));
}

/** `devChange` carries only what really changed: a resource's value, or an instance's changed resources. */
async function emitChange(
  deps: Deps,
  clientId: string,
  where: { oid: string; iid: string; rid?: string },
  changed: Record<string, unknown>,
): Promise<void> {
  if (Object.keys(changed).length === 0) return;
  await emitEvent(deps, 'devChange', clientId, {
    oid: wireId(where.oid),
    iid: wireId(where.iid),
    ...(where.rid !== undefined ? { rid: wireId(where.rid) } : {}),
    data: where.rid !== undefined ? changed[where.rid] : changed,
  });
}
