import { mixedHash } from './hash';

/**
 * When the reaper first looks at a device: its expiry plus a delay fixed per clientId, so a
 * fleet that registered in one burst (a broker restart, a mass re-registration) does not come
 * due in one burst a lifetime later (docs/PROTOCOL.md, "Lifetime and expiry").
 *
 * Only the reaper's look is delayed, never the expiry: a device whose `expiresAt` is past is
 * gone for every reader at once, and the reaper removes only a device whose `expiresAt` is
 * past. What the delay postpones is the removal and its `devLeaving`.
 *
 * The delay is at most a tenth of the lifetime (a device with a 60 s lifetime leaves at most
 * 6 s late; under 10 s, not at all) and at most MAX_DUE_DELAY_S. 15 minutes: the cloud reaper
 * runs once a minute, so a burst of registrations spread over 15 more minutes comes due over
 * ~15 more runs (a 5-minute burst of 200,000 re-registrations at 1M devices: at most about
 * 13,000 a minute instead of 40,000, where a 45 s run at 16 removals at once, ~10 ms each,
 * gets through roughly 70,000); and devLeaving, which already waits up to a minute for the
 * schedule, waits at most 15 more.
 *
 * Derived from the clientId rather than drawn at random: the spread of a fleet is as even,
 * the same device always gets the same delay, and a test can know it.
 */
export const MAX_DUE_DELAY_S = 900;

/** The longest a device of this lifetime (seconds) may wait past its expiry for the reaper. */
export const maxDueDelay = (lifetime: number): number => Math.min(Math.floor(lifetime / 10), MAX_DUE_DELAY_S);

/** This device's delay, in whole seconds from 0 to maxDueDelay(lifetime). */
export function dueDelay(clientId: string, lifetime: number): number {
  return Math.floor((mixedHash('due', clientId) / 2 ** 32) * (maxDueDelay(lifetime) + 1));
}
