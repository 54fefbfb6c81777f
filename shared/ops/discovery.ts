import { randomInt, randomUUID } from 'node:crypto';
import { emitEvent, respond, type Deps } from '../deps';
import { wireId } from '../protocol/ids';
import type { ObjList } from '../protocol/objlist';
import { Status } from '../protocol/status';
import { requestTopic } from '../protocol/topics';
import { RejectedValueError } from '../store/registry';
import { toRecord, toSeconds, type DeviceAttrs, type Discovery, type DiscoveryPurpose, type ObjectTree } from '../store/model';
import { changedAttributes } from './activity';
import { discoveriesOf } from './discoveries';
import { TRANS_IDS } from './requests';
import { normalizeObjectRead } from './tree';

/**
 * The registration flow of PROTOCOL.md section 3. The server reads every object in objList
 * before it answers. Nothing waits: the discovery (with the transId of each read) is written to
 * the table, the reads go out, and the response handler records each answer on it; the one
 * handler that takes the discovery out of the table (a conditional delete) finishes or fails
 * it, so it is answered exactly once.
 */
export interface DiscoveryStart {
  clientId: string;
  purpose: DiscoveryPurpose;
  clientTransId: number;
  attrs: DeviceAttrs;
  changed: string[];
  objList: ObjList;
}

const READ = 0;
const ATTEMPTS = 8;

/** Registration reads use the lower half of the 16-bit transIds; commands the upper half. */
export const isDiscoveryRead = (cmdId: number, transId: number): boolean =>
  cmdId === READ && transId >= TRANS_IDS.discovery.from && transId < TRANS_IDS.discovery.to;

/**
 * Starts (or, for a redelivered message, leaves running) a discovery. Its reads are recorded
 * in the discovery item itself, one transId per object, so each answer costs one write.
 */
export async function startDiscovery(deps: Deps, start: DiscoveryStart): Promise<void> {
  const now = deps.clock.now();
  const oids = Object.keys(start.objList);
  const base: Omit<Discovery, 'reads'> = {
    ...start,
    regId: randomUUID(),
    answers: {},
    remaining: oids.length,
    expiresAt: Math.ceil((now + deps.config.requestTimeoutMs) / 1000),
  };
  if (oids.length === 0) return finishDiscovery(deps, { ...base, reads: {} });
  const { from, to } = TRANS_IDS.discovery;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const first = randomInt(from, to - oids.length);
    const reads = Object.fromEntries(oids.map((oid, i) => [String(first + i), oid]));
    const put = await discoveriesOf(deps).putDiscovery({ ...base, reads }, now);
    if (put === 'running') {
      deps.log.debug({ clientId: start.clientId, transId: start.clientTransId }, 'redelivered while its reads are under way');
      return;
    }
    // A late answer to the discovery this one replaced must not land on one of its reads.
    if (Object.keys(reads).some((t) => t in (put.replaced?.reads ?? {}))) continue;
    await Promise.all(
      Object.entries(reads).map(([transId, oid]) =>
        deps.publisher.publish(
          requestTopic(start.clientId),
          JSON.stringify({ transId: Number(transId), cmdId: READ, oid: wireId(oid) }),
        ),
      ),
    );
    return;
  }
  throw new Error(`no free transIds for the reads of ${start.clientId}`);
}

/** One read answer; false when no discovery of this client waits for it. */
export async function onDiscoveryAnswer(
  deps: Deps,
  clientId: string,
  transId: number,
  answer: { status: number; data?: unknown },
): Promise<boolean> {
  const now = deps.clock.now();
  let current: Discovery | null;
  try {
    current = await discoveriesOf(deps).recordDiscoveryAnswer(clientId, transId, answer, now);
  } catch (err) {
    if (!(err instanceof RejectedValueError)) throw err;
    const pending = await discoveriesOf(deps).getDiscovery(clientId, now);
    if (!pending || !(String(transId) in pending.reads)) return false;
    await failDiscovery(deps, clientId, pending.regId, `read answer not storable: ${err.message}`);
    return true;
  }
  if (!current) return false;
  const oid = current.reads[String(transId)];
  if (answer.status !== Status.Content) {
    await failDiscovery(deps, clientId, current.regId, `read of object ${oid} answered ${answer.status}`);
    return true;
  }
  if (current.remaining > 0) {
    // An answer is activity; a first registration has no record to renew until it completes.
    if (current.purpose !== 'register') await deps.store.updateDevice(clientId, {}, now);
    return true;
  }
  const claimed = await discoveriesOf(deps).claimDiscovery(clientId, current.regId);
  if (claimed) await finishDiscovery(deps, claimed);
  return true;
}

/** The object tree the answers make, or a reason why they make none. */
function discoveredObjects(d: Discovery): ObjectTree | string {
  const objects: ObjectTree = {};
  for (const [transId, oid] of Object.entries(d.reads)) {
    const tree = normalizeObjectRead(oid, d.answers[transId]?.data);
    if (!tree) return `read of object ${oid} returned no object`;
    objects[oid] = tree;
  }
  return objects;
}

/** Fails a discovery if it is still current: the client gets 500 and nothing of it is kept. */
export async function failDiscovery(deps: Deps, clientId: string, regId: string, reason: string): Promise<void> {
  const claimed = await discoveriesOf(deps).claimDiscovery(clientId, regId);
  if (!claimed) return;
  deps.log.warn({ clientId, purpose: claimed.purpose, reason }, 'registration failed');
  await respond(deps, answerChannel(claimed), clientId, claimed.clientTransId, Status.InternalServerError);
}

const answerChannel = (d: Discovery) => (d.purpose === 'update' ? 'update' : 'register');

async function finishDiscovery(deps: Deps, d: Discovery): Promise<void> {
  const now = deps.clock.now();
  const objects = discoveredObjects(d);
  if (typeof objects === 'string') {
    deps.log.warn({ clientId: d.clientId, purpose: d.purpose, reason: objects }, 'registration failed');
    return respond(deps, answerChannel(d), d.clientId, d.clientTransId, Status.InternalServerError);
  }
  if (d.purpose !== 'register') {
    const before = await deps.store.updateDevice(
      d.clientId,
      {
        lifetime: d.attrs.lifetime,
        ip: d.attrs.ip,
        version: d.attrs.version,
        objList: d.objList,
        objects,
        ...(d.purpose === 'reregister' ? { status: 'online' as const } : {}),
      },
      now,
      d.purpose === 'reregister' ? { wakeBy: null } : {},
    );
    if (before) {
      const status = d.purpose === 'update' ? Status.Changed : Status.OK;
      const after = { ...d.attrs, objList: d.objList };
      const changed = changedAttributes(before, pickNames(after, d.purpose === 'update' ? d.changed : Object.keys(after)));
      await Promise.all([
        respond(deps, answerChannel(d), d.clientId, d.clientTransId, status),
        Object.keys(changed).length > 0 ? emitEvent(deps, 'devUpdate', d.clientId, changed) : undefined,
        before.status !== 'online' && d.purpose === 'reregister' ? emitEvent(deps, 'devStatus', d.clientId, 'online') : undefined,
      ]);
      return;
    }
    if (d.purpose === 'update') return respond(deps, 'update', d.clientId, d.clientTransId, Status.NotFound);
    // A re-registered device whose record vanished meanwhile is registered anew.
  }
  const nowSec = toSeconds(now);
  const item = {
    clientId: d.clientId,
    joinTime: nowSec,
    ...d.attrs,
    objList: d.objList,
    status: 'online' as const,
    expiresAt: nowSec + d.attrs.lifetime,
    objects,
    regTransId: d.clientTransId,
  };
  let outcome: Awaited<ReturnType<typeof deps.store.createDevice>>;
  try {
    outcome = await deps.store.createDevice(item, now);
  } catch (err) {
    if (!(err instanceof RejectedValueError)) throw err;
    deps.log.warn({ clientId: d.clientId, reason: err.message }, 'registration failed');
    return respond(deps, 'register', d.clientId, d.clientTransId, Status.InternalServerError);
  }
  if (outcome === 'conflict') return respond(deps, 'register', d.clientId, d.clientTransId, Status.Conflict);
  await respond(deps, 'register', d.clientId, d.clientTransId, outcome.existed ? Status.OK : Status.Created);
  if (!outcome.existed) {
    await Promise.all([
      emitEvent(deps, 'devIncoming', d.clientId, toRecord(item)),
      emitEvent(deps, 'devStatus', d.clientId, 'online'),
    ]);
  }
}

function pickNames(obj: Record<string, unknown>, names: string[]): Record<string, unknown> {
  return Object.fromEntries(names.filter((n) => n in obj).map((n) => [n, obj[n]]));
}
