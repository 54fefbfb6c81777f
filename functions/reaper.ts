import { emitEvent, type Deps } from '../shared/deps';
import { failDiscovery } from '../shared/ops/discovery';
import { discoveriesOf } from '../shared/ops/discoveries';
import { depsFromEnv } from './lambda/runtime';

export interface ReapReport {
  expired: string[];
  failedRegistrations: string[];
  offline: string[];
}

/**
 * Lifetime expiry (PROTOCOL.md section 2), stalled registrations (section 3) and sleep
 * deadlines (section 6), found through the sparse indexes; each removal is conditional so a
 * device that renewed meanwhile stays.
 */
export async function reaper(deps: Deps): Promise<ReapReport> {
  const now = deps.clock.now();
  const report: ReapReport = { expired: [], failedRegistrations: [], offline: [] };
  // One look-up after another: the reaper is background work and must not crowd out devices.
  const expired = await deps.store.expiredDeviceIds(now);
  const stalled = await discoveriesOf(deps).overdueDiscoveries(now);
  const sleepers = await deps.store.overdueSleeperIds(now);
  await Promise.all([
    ...expired.map(async (clientId) => {
      const removed = await deps.store.reapDevice(clientId, now);
      if (!removed) return;
      report.expired.push(clientId);
      await emitEvent(deps, 'devLeaving', clientId, removed.mac);
    }),
    ...stalled.map(async ({ clientId, regId }) => {
      await failDiscovery(deps, clientId, regId, 'object reads timed out');
      report.failedRegistrations.push(clientId);
    }),
    ...sleepers.map(async (clientId) => {
      const before = await deps.store.setStatusIf(clientId, 'offline', ['sleep'], now);
      if (!before) return;
      report.offline.push(clientId);
      await emitEvent(deps, 'devStatus', clientId, 'offline');
    }),
  ]);
  return report;
}

/** EventBridge schedule entry. */
export const handler = async (): Promise<ReapReport> => reaper(depsFromEnv());
