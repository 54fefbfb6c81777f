import type { Deps } from '../deps';
import { CMD, type CommandName } from '../protocol/cmd-ids';
import { wireId } from '../protocol/ids';
import type { Target } from '../protocol/paths';
import { Status } from '../protocol/status';
import { requestTopic } from '../protocol/topics';
import { storeInstanceValues, storeObject } from '../store/device-writes';
import type { CommandAnswer, DeviceItem, PendingRequest } from '../store/model';
import { RejectedValueError } from '../store/storable';
import { emitEvent } from './outbound';
import { changedResources, normalizeInstance, normalizeObjectRead } from './tree';

/** Server-initiated commands (docs/PROTOCOL.md, "Server requests"): sent, awaited, their results stored. */

export class DeviceNotRegistered extends Error {
  override name = 'DeviceNotRegistered';
}

/**
 * Sends one command to a device and waits for its answer, bounded by the request timeout:
 * the pending request is written first, then the waiter is set, then the request goes out.
 */
export async function sendCommand(
  deps: Deps,
  clientId: string,
  cmd: CommandName,
  target: Target | null,
  data?: unknown,
): Promise<CommandAnswer> {
  const now = deps.clock.now();
  if (!(await deps.devices.isRegistered(clientId, now))) throw new DeviceNotRegistered(clientId);
  const cmdId = CMD[cmd];
  const req = await deps.commands.open({
    clientId,
    cmdId,
    ...(target ?? {}),
    ...(data !== undefined && cmd === 'write' ? { data } : {}),
    expiresAt: Math.ceil((now + deps.config.requestTimeoutMs) / 1000),
  });
  const answered = deps.commands.wait(req, deps.config.requestTimeoutMs);
  const wire: Record<string, unknown> = { transId: req.transId, cmdId };
  if (target) {
    wire.oid = wireId(target.oid);
    if (target.iid !== undefined) wire.iid = wireId(target.iid);
    if (target.rid !== undefined) wire.rid = wireId(target.rid);
  }
  if (data !== undefined) wire.data = data;
  await deps.publisher.publish(requestTopic(clientId), JSON.stringify(wire));
  const answer = await answered;
  deps.metrics.commandEnded(cmd, answer ? answer.status : 'timeout', (deps.clock.now() - now) / 1000);
  if (!answer) {
    await deps.commands.close(req);
    return { status: Status.Timeout };
  }
  return answer;
}

/**
 * A device's answer to a command: read and write results update the stored tree (and emit
 * `devChange` when something really changed), then the waiting caller is settled. Returns the
 * device as it was before when the tree write happened (that write also renewed its lifetime).
 */
export async function onCommandAnswer(
  deps: Deps,
  req: PendingRequest,
  answer: CommandAnswer,
): Promise<DeviceItem | null | undefined> {
  try {
    return await applyToTree(deps, req, answer);
  } catch (err) {
    if (!(err instanceof RejectedValueError)) throw err;
    deps.log.warn({ clientId: req.clientId, reason: err.message }, 'answer not stored');
    return undefined;
  } finally {
    deps.commands.settle(req, answer);
  }
}

/** undefined: nothing to store; null: the device or target is not in the registry. */
async function applyToTree(deps: Deps, req: PendingRequest, answer: CommandAnswer): Promise<DeviceItem | null | undefined> {
  const { clientId, oid, iid, rid } = req;
  if (oid === undefined) return undefined;
  let value: unknown;
  if (req.cmdId === CMD.read && answer.status === Status.Content) value = answer.data;
  else if (req.cmdId === CMD.write && answer.status === Status.Changed) value = answer.data ?? req.data;
  else return undefined;
  const now = deps.clock.now();

  if (iid === undefined) {
    const instances = normalizeObjectRead(oid, value);
    if (!instances) return undefined;
    const before = await deps.devices.apply(clientId, storeObject(oid, instances, now));
    if (!before) return null;
    for (const [i, resources] of Object.entries(instances)) {
      await emitChange(deps, clientId, { oid, iid: i }, changedResources(before.objects?.[oid]?.[i], resources));
    }
    return before;
  }
  const values =
    rid !== undefined
      ? { [rid]: value }
      : value !== null && typeof value === 'object' && !Array.isArray(value)
        ? normalizeInstance(oid, value as Record<string, unknown>)
        : null;
  if (!values) return undefined;
  const before = await deps.devices.apply(clientId, storeInstanceValues(oid, iid, values, now));
  if (before) await emitChange(deps, clientId, { oid, iid, rid }, changedResources(before.objects?.[oid]?.[iid], values));
  return before;
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
