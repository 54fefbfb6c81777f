import { randomUUID } from 'node:crypto';
import type * as z from 'zod/mini';
import type { Deps } from '../deps';
import { wireId } from '../protocol/ids';
import { canonicalObjList, sameObjList, type ObjList } from '../protocol/objlist';
import type { registerSchema, updateSchema } from '../protocol/schemas';
import { Status } from '../protocol/status';
import { requestTopic } from '../protocol/topics';
import { CMD } from '../protocol/cmd-ids';
import { TRANS_IDS, withFreeTransIds } from '../protocol/trans-ids';
import { changeDevice } from '../store/device-writes';
import {
  toRecord,
  toSeconds,
  type CommandAnswer,
  type DeviceAttrs,
  type DeviceItem,
  type PendingRegistration,
  type RegistrationPurpose,
} from '../store/model';
import { RejectedValueError } from '../store/storable';
import { changedAttributes, wakeIfOffline } from './activity';
import { emitEvent, respond } from './outbound';
import { normalizeObjectRead } from './tree';

/**
 * The registration flow (docs/PROTOCOL.md, "Registration"): every status a register, a
 * re-register or an update can get, and where it is decided. A malformed message got its 400
 * before any of this (shared/ops/inbound.ts).
 *
 * | message                                   | decided in          | status                      |
 * |-------------------------------------------|---------------------|-----------------------------|
 * | register, live record of another mac      | `register`          | 409                         |
 * | register delivered again after it ended   | `register`          | 201 (no second devIncoming) |
 * | register, same device, same objList       | `register`          | 200 (renewed, online)       |
 * | register, same device, other objList      | reads, `complete`   | 200                         |
 * | register, new client, join window closed  | `register`          | 401                         |
 * | register, new client                      | reads, `complete`   | 201; 409 if another mac took the id meanwhile |
 * | update, not registered / other mac        | `update`            | 404 / 409                   |
 * | update without objList                    | `update`            | 204                         |
 * | update with objList                       | reads, `complete`   | 204; 404 if removed meanwhile |
 * | any read answered other than 205, an answer that makes no object or cannot be stored, reads not all answered within LWMQN_REQUEST_TIMEOUT_MS (`timeOut`, from the reaper) | `fail` | 500 |
 *
 * "reads": the server reads every object of the objList before it answers. Nothing waits for
 * them: the registration (with the transId of each read) is recorded, the reads go out, and each
 * answer is recorded on it (`onReadAnswer`, from the response handler). The one caller that
 * takes it out of its store (`claim`) completes or fails it, so it is answered exactly once.
 */

type RegisterBody = z.infer<typeof registerSchema>;
type UpdateBody = z.infer<typeof updateSchema>;

// Reference clients count transIds modulo 256, so a match only means "the same message" briefly.
const REDELIVERY_WINDOW_MS = 60_000;
const TRANS_ID_ATTEMPTS = 8;

export async function register(deps: Deps, clientId: string, body: RegisterBody): Promise<void> {
  const answer = (status: number) => respond(deps, 'register', clientId, body.transId, status);
  const objList = canonicalObjList(body.objList);
  const attrs: DeviceAttrs = {
    lifetime: body.lifetime ?? deps.config.defaultLifetime,
    ip: body.ip,
    mac: body.mac.toLowerCase(),
    version: body.version ?? '',
  };
  const now = deps.clock.now();
  const known = await deps.devices.get(clientId, now);
  if (known) {
    if (known.mac !== attrs.mac) return answer(Status.Conflict);
    if (known.regTransId === body.transId && now - known.joinTime * 1000 < REDELIVERY_WINDOW_MS) {
      deps.log.debug({ clientId, transId: body.transId }, 'register redelivered after it completed');
      return answer(Status.Created);
    }
    if (!sameObjList(known.objList, objList)) {
      return startReads(deps, { clientId, purpose: 'reregister', clientTransId: body.transId, attrs, changed: [], objList });
    }
    const { mac: _mac, ...renewable } = attrs;
    const before = await deps.devices.apply(clientId, changeDevice({ ...renewable, status: 'online' }, now, 'clear'));
    if (before) return renewed(deps, before, renewable, () => answer(Status.OK), before.status !== 'online');
    // Expired or removed between the read and the write: it registers as a new client.
  }
  if (deps.config.join === 'permit' && (await deps.settings.getJoinUntilMs()) <= now) return answer(Status.Unauthorized);
  await startReads(deps, { clientId, purpose: 'register', clientTransId: body.transId, attrs, changed: [], objList });
}

export async function update(deps: Deps, clientId: string, body: UpdateBody): Promise<void> {
  const answer = (status: number) => respond(deps, 'update', clientId, body.transId, status);
  const now = deps.clock.now();
  const known = await deps.devices.get(clientId, now);
  if (!known) return answer(Status.NotFound);
  if (body.mac !== undefined && body.mac.toLowerCase() !== known.mac) return answer(Status.Conflict);
  if (body.objList !== undefined) {
    // A new objList replaces the whole tree: the objects are read again before the answer.
    return startReads(deps, {
      clientId,
      purpose: 'update',
      clientTransId: body.transId,
      attrs: {
        lifetime: body.lifetime ?? known.lifetime,
        ip: body.ip ?? known.ip,
        mac: known.mac,
        version: body.version ?? known.version,
      },
      changed: ['lifetime', 'ip', 'version', 'objList'].filter((k) => body[k as keyof UpdateBody] !== undefined),
      objList: canonicalObjList(body.objList),
    });
  }
  const changes = { lifetime: body.lifetime, ip: body.ip, version: body.version };
  const before = await deps.devices.apply(clientId, changeDevice(changes, now));
  if (!before) return answer(Status.NotFound);
  await Promise.all([renewed(deps, before, changes, () => answer(Status.Changed), false), wakeIfOffline(deps, clientId, before)]);
}

/** The answer, then `devUpdate` with what really changed and `devStatus` when it came back online. */
async function renewed(
  deps: Deps,
  before: DeviceItem,
  after: object,
  answer: () => Promise<void>,
  cameOnline: boolean,
): Promise<void> {
  const changed = changedAttributes(before, after);
  await Promise.all([
    answer(),
    Object.keys(changed).length > 0 ? emitEvent(deps, 'devUpdate', before.clientId, changed) : undefined,
    cameOnline ? emitEvent(deps, 'devStatus', before.clientId, 'online') : undefined,
  ]);
}

// ---- the object reads ------------------------------------------------------------------------

interface ReadsStart {
  clientId: string;
  purpose: RegistrationPurpose;
  clientTransId: number;
  attrs: DeviceAttrs;
  changed: string[];
  objList: ObjList;
}

/**
 * Records the registration with one read per object (consecutive transIds) and publishes the
 * reads; a redelivered message whose reads are under way leaves them running.
 */
async function startReads(deps: Deps, start: ReadsStart): Promise<void> {
  const now = deps.clock.now();
  const oids = Object.keys(start.objList);
  const base: Omit<PendingRegistration, 'reads'> = {
    ...start,
    regId: randomUUID(),
    answers: {},
    remaining: oids.length,
    expiresAt: Math.ceil((now + deps.config.requestTimeoutMs) / 1000),
  };
  if (oids.length === 0) return complete(deps, { ...base, reads: {} });
  const reads = await withFreeTransIds(TRANS_IDS.registrationReads, oids.length, TRANS_ID_ATTEMPTS, async (first) => {
    const candidate = Object.fromEntries(oids.map((oid, i) => [String(first + i), oid]));
    const started = await deps.registrations.start({ ...base, reads: candidate }, now);
    if (started === 'running') return null;
    // A late answer to the registration this one replaced must not land on one of its reads.
    return Object.keys(candidate).some((t) => t in (started.replaced?.reads ?? {})) ? undefined : candidate;
  });
  if (reads === null) {
    deps.log.debug({ clientId: start.clientId, transId: start.clientTransId }, 'redelivered while its reads are under way');
    return;
  }
  await Promise.all(
    Object.entries(reads).map(([transId, oid]) =>
      deps.publisher.publish(
        requestTopic(start.clientId),
        JSON.stringify({ transId: Number(transId), cmdId: CMD.read, oid: wireId(oid) }),
      ),
    ),
  );
}

/** The device's answer to one read; false when no registration of this client waits for it. */
export async function onReadAnswer(deps: Deps, clientId: string, transId: number, answer: CommandAnswer): Promise<boolean> {
  const now = deps.clock.now();
  let current: PendingRegistration | null;
  try {
    current = await deps.registrations.recordAnswer(clientId, transId, answer, now);
  } catch (err) {
    if (!(err instanceof RejectedValueError)) throw err;
    const pending = await deps.registrations.get(clientId, now);
    if (!pending || !(String(transId) in pending.reads)) return false;
    await fail(deps, clientId, pending.regId, `read answer not storable: ${err.message}`);
    return true;
  }
  if (!current) return false;
  if (answer.status !== Status.Content) {
    await fail(deps, clientId, current.regId, `read of object ${current.reads[String(transId)]} answered ${answer.status}`);
    return true;
  }
  if (current.remaining > 0) {
    // An answer is activity; a first registration has no record to renew until it completes.
    if (current.purpose !== 'register') await deps.devices.apply(clientId, changeDevice({}, now));
    return true;
  }
  const claimed = await deps.registrations.claim(clientId, current.regId);
  if (claimed) await complete(deps, claimed);
  return true;
}

/** The reads were not all answered in time (the reaper found the registration overdue). */
export const timeOut = (deps: Deps, clientId: string, regId: string): Promise<void> =>
  fail(deps, clientId, regId, 'object reads timed out');

/** Fails a registration if it is still the current one: the client gets 500 and nothing of it is kept. */
async function fail(deps: Deps, clientId: string, regId: string, reason: string): Promise<void> {
  const claimed = await deps.registrations.claim(clientId, regId);
  if (claimed) await failClaimed(deps, claimed, reason);
}

function failClaimed(deps: Deps, r: PendingRegistration, reason: string): Promise<void> {
  deps.log.warn({ clientId: r.clientId, purpose: r.purpose, reason }, 'registration failed');
  return respond(deps, r.purpose === 'update' ? 'update' : 'register', r.clientId, r.clientTransId, Status.InternalServerError);
}

// ---- completion: every read answered ---------------------------------------------------------

async function complete(deps: Deps, r: PendingRegistration): Promise<void> {
  const objects: DeviceItem['objects'] = {};
  for (const [transId, oid] of Object.entries(r.reads)) {
    const tree = normalizeObjectRead(oid, r.answers[transId]?.data);
    if (!tree) return failClaimed(deps, r, `read of object ${oid} returned no object`);
    objects[oid] = tree;
  }
  switch (r.purpose) {
    case 'register':
      return completeRegister(deps, r, objects);
    case 'reregister':
      return completeReregister(deps, r, objects);
    case 'update':
      return completeUpdate(deps, r, objects);
  }
}

async function completeRegister(deps: Deps, r: PendingRegistration, objects: DeviceItem['objects']): Promise<void> {
  const now = toSeconds(deps.clock.now());
  const item: DeviceItem = {
    clientId: r.clientId,
    joinTime: now,
    ...r.attrs,
    objList: r.objList,
    status: 'online',
    expiresAt: now + r.attrs.lifetime,
    objects,
    regTransId: r.clientTransId,
  };
  let outcome: Awaited<ReturnType<Deps['devices']['create']>>;
  try {
    outcome = await deps.devices.create(item, deps.clock.now());
  } catch (err) {
    if (!(err instanceof RejectedValueError)) throw err;
    return failClaimed(deps, r, err.message);
  }
  const answer = (status: number) => respond(deps, 'register', r.clientId, r.clientTransId, status);
  if (outcome === 'conflict') return answer(Status.Conflict);
  await answer(outcome.existed ? Status.OK : Status.Created);
  if (!outcome.existed) {
    await Promise.all([
      emitEvent(deps, 'devIncoming', r.clientId, toRecord(item)),
      emitEvent(deps, 'devStatus', r.clientId, 'online'),
    ]);
  }
}

/** The same device with another objList: its record takes the new tree and comes online. */
async function completeReregister(deps: Deps, r: PendingRegistration, objects: DeviceItem['objects']): Promise<void> {
  const { mac: _mac, ...attrs } = r.attrs;
  const changes = { ...attrs, objList: r.objList, objects, status: 'online' as const };
  const before = await deps.devices.apply(r.clientId, changeDevice(changes, deps.clock.now(), 'clear'));
  // Its record vanished meanwhile (removed, expired): it is registered anew.
  if (!before) return completeRegister(deps, r, objects);
  const answer = () => respond(deps, 'register', r.clientId, r.clientTransId, Status.OK);
  await renewed(deps, before, { ...r.attrs, objList: r.objList }, answer, before.status !== 'online');
}

async function completeUpdate(deps: Deps, r: PendingRegistration, objects: DeviceItem['objects']): Promise<void> {
  const { mac: _mac, ...attrs } = r.attrs;
  const before = await deps.devices.apply(r.clientId, changeDevice({ ...attrs, objList: r.objList, objects }, deps.clock.now()));
  const answer = (status: number) => respond(deps, 'update', r.clientId, r.clientTransId, status);
  if (!before) return answer(Status.NotFound);
  const sent = Object.fromEntries(r.changed.map((k) => [k, { ...r.attrs, objList: r.objList }[k as keyof DeviceAttrs]]));
  await renewed(deps, before, sent, () => answer(Status.Changed), false);
}
