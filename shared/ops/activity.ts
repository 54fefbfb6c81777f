import { isDeepStrictEqual } from 'node:util';
import type { Deps } from '../deps';
import { setStatus } from '../store/device-writes';
import type { DeviceItem } from '../store/model';
import { emitEvent } from './outbound';

/** Any message makes an offline device online again (docs/PROTOCOL.md, "Sleep and offline"); asleep stays asleep. */
export async function wakeIfOffline(deps: Deps, clientId: string, before: DeviceItem | null): Promise<void> {
  if (before?.status !== 'offline') return;
  const changed = await deps.devices.apply(clientId, setStatus('online', ['offline'], deps.clock.now()));
  if (changed) await emitEvent(deps, 'devStatus', clientId, 'online');
}

/** The attributes whose value differs from the stored ones: the data of `devUpdate`. */
export function changedAttributes(before: object, after: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const old = before as Record<string, unknown>;
  for (const [k, v] of Object.entries(after)) {
    if (v !== undefined && !isDeepStrictEqual(old[k], v)) out[k] = v;
  }
  return out;
}
