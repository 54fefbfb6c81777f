import { isDeepStrictEqual } from 'node:util';
import { emitEvent, type Deps } from '../deps';
import type { DeviceItem } from '../store/model';

/** Any message makes an offline device online again (PROTOCOL.md section 6); asleep stays asleep. */
export async function wakeIfOffline(deps: Deps, clientId: string, before: DeviceItem | null): Promise<void> {
  if (before?.status !== 'offline') return;
  const changed = await deps.store.setStatusIf(clientId, 'online', ['offline'], deps.clock.now());
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
