import type { ObjList } from '../protocol/objlist-shape';

/** What the registry keeps (docs/ARCHITECTURE.md, "State"); times are epoch seconds unless named `Ms`. */
export const DEVICE_STATUSES = ['online', 'sleep', 'offline'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** `{oid: {iid: {rid: value}}}` keyed by numeric ids written as strings. */
export type ObjectTree = Record<string, Record<string, Record<string, unknown>>>;

/** The public record (docs/PROTOCOL.md and the API's `GET /devices/:id`). */
export interface DeviceRecord {
  clientId: string;
  joinTime: number;
  lifetime: number;
  ip: string;
  mac: string;
  version: string;
  objList: ObjList;
  status: DeviceStatus;
  expiresAt: number;
}

export interface DeviceItem extends DeviceRecord {
  objects: ObjectTree;
  /** The transId of the register that created the record: a redelivery of it gets the same 201. */
  regTransId?: number;
  /** Set while asleep with a duration: the device goes offline if it has not woken by then. */
  wakeBy?: number;
}

export type DeviceAttrs = Pick<DeviceRecord, 'lifetime' | 'ip' | 'mac' | 'version'>;

export type RegistrationPurpose = 'register' | 'reregister' | 'update';

/** A registration (or objList update) waiting for the device to answer its object reads. */
export interface PendingRegistration {
  clientId: string;
  regId: string;
  purpose: RegistrationPurpose;
  clientTransId: number;
  attrs: DeviceAttrs;
  /** Attribute names the client actually sent in an update, for `devUpdate`. */
  changed: string[];
  objList: ObjList;
  /** transId of each object read -> its oid */
  reads: Record<string, string>;
  /** transId -> the device's answer as it came (normalised when the registration completes) */
  answers: Record<string, CommandAnswer>;
  remaining: number;
  expiresAt: number;
}

/** A command the server published on `request/<id>` and whose response it still expects. */
export interface PendingRequest {
  clientId: string;
  cmdId: number;
  transId: number;
  oid?: string;
  iid?: string;
  rid?: string;
  /** What a write asked for, to store it once the device confirms. */
  data?: unknown;
  expiresAt: number;
  answer?: CommandAnswer;
}

/** A device's answer to a server request: its status and, for some, data. */
export interface CommandAnswer {
  status: number;
  data?: unknown;
}

export const toSeconds = (ms: number): number => Math.floor(ms / 1000);

export function toRecord(item: DeviceItem): DeviceRecord {
  const { clientId, joinTime, lifetime, ip, mac, version, objList, status, expiresAt } = item;
  return { clientId, joinTime, lifetime, ip, mac, version, objList, status, expiresAt };
}
