import { isDeepStrictEqual } from 'node:util';
import { toSeconds, type DeviceItem, type DeviceStatus } from './model';

/**
 * Every change to a device item, defined once as data: the conditions it needs and the
 * attributes it sets or removes. The table store renders a write as one conditional UpdateItem
 * (shared/store/table/expressions.ts); the device cache applies the very same write to
 * its copy (`applyWrite` below). A write is checked against DynamoDB's own result in
 * test/contract/devices.test.ts, so the two cannot drift.
 *
 * Semantics are DynamoDB's: every operand is read from the item as it was before the write, a
 * comparison with a missing attribute is false, a path into a missing map fails the condition.
 */
export type Path = readonly string[];

export type Operand = { value: unknown } | { attr: Path };

/** What an attribute is set to: an operand, or the sum of two (`lifetime + now`). */
export type Assigned = Operand | { sum: readonly [Operand, Operand] };

export type Condition = { exists: Path } | { compare: Path; op: '<' | '>=' | '='; value: unknown } | { anyOf: readonly Condition[] };

/** A condition the protocol needs, with the name logs and tests know it by. */
export interface NamedCondition {
  name: string;
  condition: Condition;
}

export interface DeviceWrite {
  /** All must hold, or the write changes nothing and the caller learns the device did not match. */
  requires: readonly NamedCondition[];
  set: ReadonlyArray<{ path: Path; to: Assigned }>;
  remove: readonly Path[];
}

// ---- the protocol's conditions, named -------------------------------------------------------

/** The device is registered: its lifetime has not run out (also: the item exists). */
export const deviceIsLive = (nowMs: number): NamedCondition => ({
  name: 'deviceIsLive',
  condition: { compare: ['expiresAt'], op: '>=', value: toSeconds(nowMs) },
});

/** A notify or a result names an object the device registered (else the device gets 404). */
export const objectIsKnown = (oid: string): NamedCondition => ({
  name: 'objectIsKnown',
  condition: { exists: ['objects', oid] },
});

export const instanceIsKnown = (oid: string, iid: string): NamedCondition => ({
  name: 'instanceIsKnown',
  condition: { exists: ['objects', oid, iid] },
});

/** A notify may only report resources the device registered (docs/PROTOCOL.md, notify). */
export const resourceIsKnown = (oid: string, iid: string, rid: string): NamedCondition => ({
  name: 'resourceIsKnown',
  condition: { exists: ['objects', oid, iid, rid] },
});

export const statusIsOneOf = (statuses: readonly DeviceStatus[]): NamedCondition => ({
  name: 'statusIsOneOf',
  condition: { anyOf: statuses.map((value) => ({ compare: ['status'], op: '=', value })) },
});

// ---- the writes --------------------------------------------------------------------------

/** Any message from the device is activity: its lifetime counts again from now. */
const renewal = (nowMs: number) => ({
  path: ['expiresAt'],
  to: { sum: [{ attr: ['lifetime'] }, { value: toSeconds(nowMs) }] } as const,
});

export interface DeviceChanges {
  lifetime?: number;
  ip?: string;
  version?: string;
  objList?: DeviceItem['objList'];
  objects?: DeviceItem['objects'];
  status?: DeviceStatus;
}

/** What a change does to the sleep deadline: set one, clear it (awake again), or leave it. */
export type WakeDeadline = { wakeBy: number } | 'clear' | 'keep';

/** Attributes of a live device change; also activity. A new lifetime counts from now. */
export function changeDevice(changes: DeviceChanges, nowMs: number, wake: WakeDeadline = 'keep'): DeviceWrite {
  const set: Array<{ path: Path; to: Assigned }> = [];
  for (const [attr, value] of Object.entries(changes)) {
    if (value !== undefined) set.push({ path: [attr], to: { value } });
  }
  // Operands are read before the write: a new lifetime is added here, not read back.
  if (changes.lifetime !== undefined) set.push({ path: ['expiresAt'], to: { value: changes.lifetime + toSeconds(nowMs) } });
  else set.push(renewal(nowMs));
  if (typeof wake === 'object') set.push({ path: ['wakeBy'], to: { value: wake.wakeBy } });
  return { requires: [deviceIsLive(nowMs)], set, remove: wake === 'clear' ? [['wakeBy']] : [] };
}

/** A message that changes nothing but counts as activity (ping, an answer). */
export const renew = (nowMs: number): DeviceWrite => changeDevice({}, nowMs);

/** A notify: the values of registered resources of one instance, and activity. */
export function storeNotification(oid: string, iid: string, values: Record<string, unknown>, nowMs: number): DeviceWrite {
  const rids = Object.keys(values);
  return {
    requires: [
      deviceIsLive(nowMs),
      ...(rids.length === 0 ? [instanceIsKnown(oid, iid)] : rids.map((rid) => resourceIsKnown(oid, iid, rid))),
    ],
    set: [...rids.map((rid) => ({ path: ['objects', oid, iid, rid], to: { value: values[rid] } })), renewal(nowMs)],
    remove: [],
  };
}

/**
 * A read or write result on an instance or a resource: unlike a notify it may add resources
 * the tree did not list yet (a read of a whole instance shows them all), inside a known instance.
 */
export function storeInstanceValues(oid: string, iid: string, values: Record<string, unknown>, nowMs: number): DeviceWrite {
  return {
    requires: [deviceIsLive(nowMs), instanceIsKnown(oid, iid)],
    set: [...Object.keys(values).map((rid) => ({ path: ['objects', oid, iid, rid], to: { value: values[rid] } })), renewal(nowMs)],
    remove: [],
  };
}

/** A whole-object read result replaces the object's instances. */
export function storeObject(oid: string, instances: Record<string, Record<string, unknown>>, nowMs: number): DeviceWrite {
  return {
    requires: [deviceIsLive(nowMs), objectIsKnown(oid)],
    set: [{ path: ['objects', oid], to: { value: instances } }, renewal(nowMs)],
    remove: [],
  };
}

/** A status change that is not the device's activity (its will, a sleep deadline passing). */
export function setStatus(status: DeviceStatus, from: readonly DeviceStatus[], nowMs: number): DeviceWrite {
  return {
    requires: [deviceIsLive(nowMs), statusIsOneOf(from)],
    set: [{ path: ['status'], to: { value: status } }],
    remove: [['wakeBy']],
  };
}

// ---- the same writes, applied to an item in memory -----------------------------------------

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function valueAt(item: unknown, path: Path): unknown {
  let node = item;
  for (const name of path) {
    if (!isMap(node) || !(name in node)) return undefined;
    node = node[name];
  }
  return node;
}

function holds(item: DeviceItem, c: Condition): boolean {
  if ('exists' in c) return valueAt(item, c.exists) !== undefined;
  if ('anyOf' in c) return c.anyOf.some((each) => holds(item, each));
  const actual = valueAt(item, c.compare);
  if (c.op === '=') return actual !== undefined && isDeepStrictEqual(actual, c.value);
  if (typeof actual !== 'number' || typeof c.value !== 'number') return false;
  return c.op === '<' ? actual < c.value : actual >= c.value;
}

function evaluate(item: DeviceItem, to: Assigned): unknown {
  if ('sum' in to) return (evaluate(item, to.sum[0]) as number) + (evaluate(item, to.sum[1]) as number);
  return 'attr' in to ? valueAt(item, to.attr) : to.value;
}

/** A copy of `item` with `value` at `path` (or without it), sharing every untouched branch. */
function withValue(node: Record<string, unknown>, path: Path, value: unknown, remove: boolean): Record<string, unknown> {
  const [head, ...rest] = path;
  const copy = { ...node };
  if (rest.length === 0) {
    if (remove) delete copy[head];
    else copy[head] = value;
  } else {
    copy[head] = withValue(node[head] as Record<string, unknown>, rest, value, remove);
  }
  return copy;
}

/** The item after the write, or null when a required condition does not hold. */
export function applyWrite(item: DeviceItem, write: DeviceWrite): DeviceItem | null {
  if (!write.requires.every((r) => holds(item, r.condition))) return null;
  const values = write.set.map((s) => evaluate(item, s.to));
  let out = item as unknown as Record<string, unknown>;
  write.set.forEach((s, i) => (out = withValue(out, s.path, values[i], false)));
  for (const path of write.remove) if (valueAt(out, path) !== undefined) out = withValue(out, path, undefined, true);
  return out as unknown as DeviceItem;
}

/** The write would leave the item as it is (every attribute it sets already has that value). */
export function changesNothing(item: DeviceItem, write: DeviceWrite): boolean {
  return (
    write.set.every((s) => isDeepStrictEqual(valueAt(item, s.path), evaluate(item, s.to))) &&
    write.remove.every((path) => valueAt(item, path) === undefined)
  );
}
