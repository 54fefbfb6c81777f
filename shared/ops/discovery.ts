import { randomUUID } from 'node:crypto';
import { emitEvent, respond, type Deps } from '../deps';
import { wireId } from '../protocol/ids';
import type { ObjList } from '../protocol/objlist';
import { Status } from '../protocol/status';
import { requestTopic } from '../protocol/topics';
import { RejectedValueError } from '../store/registry';
import { toRecord, toSeconds, type DeviceAttrs, type Discovery, type DiscoveryPurpose, type PendingRequest } from '../store/model';
import { changedAttributes } from './activity';
import { allocateRequest, TRANS_IDS } from './requests';
import { normalizeObjectRead } from './tree';

/**
 * The registration flow of PROTOCOL.md section 3. The server reads every object in objList
 * before it answers. Nothing waits: the discovery is written to the table, the reads go out, and
 * the response handler advances it with each answer; the one handler that takes the discovery
 * out of the table (a conditional delete) finishes or fails it, so it is answered exactly once.
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

export async function startDiscovery(deps: Deps, start: DiscoveryStart): Promise<void> {
  const now = deps.clock.now();
  const oids = Object.keys(start.objList);
  const discovery: Discovery = {
    ...start,
    regId: randomUUID(),
    objects: {},
    remaining: oids.length,
    expiresAt: Math.ceil((now + deps.config.requestTimeoutMs) / 1000),
  };
  if (oids.length === 0) return finishDiscovery(deps, discovery);
  await deps.store.putDiscovery(discovery);
  const requests = await Promise.all(
    oids.map((oid) =>
      allocateRequest(deps, {
        clientId: start.clientId,
        cmdId: READ,
        purpose: 'discover',
        regId: discovery.regId,
        oid,
        expiresAt: discovery.expiresAt,
      }, TRANS_IDS.discovery),
    ),
  );
  await Promise.all(
    requests.map((r) =>
      deps.publisher.publish(
        requestTopic(start.clientId),
        JSON.stringify({ transId: r.transId, cmdId: READ, oid: wireId(r.oid!) }),
      ),
    ),
  );
}

/** One read answer of a discovery, already claimed from its pending request. */
export async function onDiscoveryAnswer(
  deps: Deps,
  req: PendingRequest,
  answer: { status: number; data?: unknown },
): Promise<void> {
  const { clientId, regId, oid } = req as Required<PendingRequest>;
  if (answer.status !== Status.Content) {
    return failDiscovery(deps, clientId, regId, `read of object ${oid} answered ${answer.status}`);
  }
  const tree = normalizeObjectRead(oid, answer.data);
  if (!tree) return failDiscovery(deps, clientId, regId, `read of object ${oid} returned no object`);
  let current: Discovery | null;
  try {
    current = await deps.store.addDiscoveredObject(clientId, regId, oid, tree);
  } catch (err) {
    if (err instanceof RejectedValueError) return failDiscovery(deps, clientId, regId, err.message);
    throw err;
  }
  if (!current) return;
  if (current.remaining > 0) {
    // An answer is activity; a first registration has no record to renew until it completes.
    if (current.purpose !== 'register') await deps.store.updateDevice(clientId, {}, deps.clock.now());
    return;
  }
  const claimed = await deps.store.claimDiscovery(clientId, regId);
  if (claimed) await finishDiscovery(deps, claimed);
}

/** Fails a discovery if it is still current: the client gets 500 and nothing of it is kept. */
export async function failDiscovery(deps: Deps, clientId: string, regId: string, reason: string): Promise<void> {
  const claimed = await deps.store.claimDiscovery(clientId, regId);
  if (!claimed) return;
  deps.log.warn({ clientId, purpose: claimed.purpose, reason }, 'registration failed');
  await respond(deps, answerChannel(claimed), clientId, claimed.clientTransId, Status.InternalServerError);
}

const answerChannel = (d: Discovery) => (d.purpose === 'update' ? 'update' : 'register');

async function finishDiscovery(deps: Deps, d: Discovery): Promise<void> {
  const now = deps.clock.now();
  if (d.purpose !== 'register') {
    const before = await deps.store.updateDevice(
      d.clientId,
      {
        lifetime: d.attrs.lifetime,
        ip: d.attrs.ip,
        version: d.attrs.version,
        objList: d.objList,
        objects: d.objects,
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
    objects: d.objects,
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
