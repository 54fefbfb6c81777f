import { randomInt } from 'node:crypto';
import type { Deps } from '../deps';
import type { PendingRequest } from '../store/model';

const ATTEMPTS = 16;
// The reference client echoes any number; 16 bits keep transIds short and collisions rare.
const TRANS_ID_SPACE = 0x10000;

/**
 * Writes a pending request under a fresh server-chosen transId and returns it. The write comes
 * before the publish: a device on loopback answers faster than a store write lands.
 */
export async function allocateRequest(
  deps: Deps,
  req: Omit<PendingRequest, 'transId'>,
): Promise<PendingRequest> {
  const now = deps.clock.now();
  for (let i = 0; i < ATTEMPTS; i++) {
    const candidate: PendingRequest = { ...req, transId: randomInt(TRANS_ID_SPACE) };
    if (await deps.store.putRequest(candidate, now)) return candidate;
  }
  throw new Error(`no free transId for ${req.clientId} after ${ATTEMPTS} attempts`);
}
