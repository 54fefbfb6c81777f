import { randomInt } from 'node:crypto';
import { CMD } from './cmd-ids';

/**
 * Server transIds are 16 bits (the reference client echoes any number). Registration reads and
 * commands draw from separate halves, so a command held in memory (local stack) can never take
 * the answer meant for a registration read (docs/PROTOCOL.md, "Server requests").
 */
export const TRANS_IDS = {
  registrationReads: { from: 0, to: 0x8000 },
  commands: { from: 0x8000, to: 0x10000 },
} as const;
export type TransIdRange = (typeof TRANS_IDS)[keyof typeof TRANS_IDS];

/** An answer to one of a registration's object reads (as opposed to a command's). */
export const isRegistrationRead = (cmdId: number, transId: number): boolean =>
  cmdId === CMD.read && transId >= TRANS_IDS.registrationReads.from && transId < TRANS_IDS.registrationReads.to;

/**
 * Draws `count` consecutive transIds at random in `range` and offers the first to `take`, which
 * answers undefined when they are not free; draws again, up to `attempts` times.
 */
export async function withFreeTransIds<T>(
  range: TransIdRange,
  count: number,
  attempts: number,
  take: (first: number) => Promise<T | undefined> | T | undefined,
): Promise<T> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const taken = await take(randomInt(range.from, range.to - count + 1));
    if (taken !== undefined) return taken;
  }
  throw new Error(`no free transIds after ${attempts} attempts`);
}
