import { randomInt } from 'node:crypto';
import type { Deps } from '../deps';
import type { PendingRequest } from '../store/model';

const ATTEMPTS = 16;

/**
 * Server transIds are 16 bits (the reference client echoes any number). Registration reads and
 * commands draw from separate halves, so a command held in memory (local stack) can never take
 * the answer meant for a registration read held in the table.
 */
export const TRANS_IDS = {
  discovery: { from: 0, to: 0x8000 },
  command: { from: 0x8000, to: 0x10000 },
} as const;
export type TransIdRange = (typeof TRANS_IDS)[keyof typeof TRANS_IDS];

/**
 * Writes a pending request under a fresh server-chosen transId and returns it. The write comes
 * before the publish: a device on loopback answers faster than a store write lands.
 */
export async function allocateRequest(
  deps: Deps,
  req: Omit<PendingRequest, 'transId'>,
  range: TransIdRange,
): Promise<PendingRequest> {
  const now = deps.clock.now();
  for (let i = 0; i < ATTEMPTS; i++) {
    const candidate: PendingRequest = { ...req, transId: randomInt(range.from, range.to) };
    if (await deps.store.putRequest(candidate, now)) return candidate;
  }
  throw new Error(`no free transId for ${req.clientId} after ${ATTEMPTS} attempts`);
}
