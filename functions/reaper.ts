import type { Deps } from '../shared/deps';
import { emitEvent } from '../shared/ops/outbound';
import { timeOut } from '../shared/ops/registration';
import { setStatus } from '../shared/store/device-writes';
import { scheduledEntry } from './lambda/runtime';

export interface ReapReport {
  expired: string[];
  failedRegistrations: string[];
  offline: string[];
}

/** How many removals and status changes run at once: background work must not crowd out devices. */
export const REAPER_CONCURRENCY = 16;

/**
 * Lifetime expiry, stalled registrations and sleep deadlines (docs/PROTOCOL.md, "Lifetime,
 * sleep and offline"), found through the sparse indexes; each removal is conditional so a
 * device that renewed meanwhile stays.
 */
export async function reaper(deps: Deps): Promise<ReapReport> {
  const now = deps.clock.now();
  const report: ReapReport = { expired: [], failedRegistrations: [], offline: [] };
  // One look-up after another, for the same reason.
  const expired = await deps.devices.expiredIds(now);
  const stalled = await deps.registrations.overdue(now);
  const sleepers = await deps.devices.overdueSleeperIds(now);
  const work: Array<() => Promise<void>> = [
    ...expired.map((clientId) => async () => {
      const removed = await deps.devices.reap(clientId, now);
      if (!removed) return;
      report.expired.push(clientId);
      await emitEvent(deps, 'devLeaving', clientId, removed.mac);
    }),
    ...stalled.map(({ clientId, regId }) => async () => {
      await timeOut(deps, clientId, regId);
      report.failedRegistrations.push(clientId);
    }),
    ...sleepers.map((clientId) => async () => {
      const before = await deps.devices.apply(clientId, setStatus('offline', ['sleep'], now));
      if (!before) return;
      report.offline.push(clientId);
      await emitEvent(deps, 'devStatus', clientId, 'offline');
    }),
  ];
  await runLimited(work, REAPER_CONCURRENCY);
  return report;
}

/** Runs every task, at most `limit` at once; rejects with the first failure once all have ended. */
async function runLimited(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++];
      await task().catch((err: unknown) => void errors.push(err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

/** EventBridge schedule entry. */
export const handler = scheduledEntry(reaper);
