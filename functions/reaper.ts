import type { Deps } from '../shared/deps';
import { emitEvent } from '../shared/ops/outbound';
import { timeOut } from '../shared/ops/registration';
import { setStatus } from '../shared/store/device-writes';
import { scheduledEntry } from './lambda/entries';

export interface ReapReport {
  expired: string[];
  failedRegistrations: string[];
  offline: string[];
  /** Found due but not started before the deadline: the next run starts with them. */
  left: number;
  /** The run stopped at its deadline with the indexes not read to the end: more than `left` may be due. */
  stoppedEarly: boolean;
}

/** How many removals and status changes run at once: background work must not crowd out devices. */
export const REAPER_CONCURRENCY = 16;

/** Index items read per query: a run holds at most one page of due work in memory per kind. */
export const REAPER_PAGE_SIZE = 100;

/**
 * In the cloud the run stops starting work this long before its function times out: what was
 * started by then (a few store calls, each given up after 5 s: shared/store/table/client.ts)
 * still ends inside the timeout.
 */
export const CLOUD_DEADLINE_MARGIN_MS = 10_000;

export interface ReapOptions {
  /** Milliseconds left until the run must stop starting work; no deadline when absent. */
  timeLeftMs?: () => number;
}

/**
 * Lifetime expiry, stalled registrations and sleep deadlines (docs/PROTOCOL.md, "Lifetime,
 * sleep and offline"), found through the sparse indexes a page at a time; each removal is
 * conditional so a device that renewed meanwhile stays. A run starts nothing once its deadline
 * has passed and leaves the rest to the next run, which finds it where this one stopped:
 * whatever was handled has left the index (docs/SCALE.md, "What breaks first").
 */
export async function reaper(deps: Deps, opts: ReapOptions = {}): Promise<ReapReport> {
  const now = deps.clock.now();
  const report: ReapReport = { expired: [], failedRegistrations: [], offline: [], left: 0, stoppedEarly: false };
  const outOfTime = () => opts.timeLeftMs !== undefined && opts.timeLeftMs() <= 0;
  const errors: unknown[] = [];
  // Stalled registrations first (a device is waiting for that answer), then sleep deadlines,
  // then expiries, the pile that can outgrow a run. One kind after another, as background work.
  const kinds = [
    () =>
      drain(deps.registrations.overdue(now, REAPER_PAGE_SIZE), async ({ clientId, regId }) => {
        await timeOut(deps, clientId, regId);
        report.failedRegistrations.push(clientId);
      }),
    () =>
      drain(deps.devices.overdueSleeperIds(now, REAPER_PAGE_SIZE), async (clientId) => {
        const before = await deps.devices.apply(clientId, setStatus('offline', ['sleep'], now));
        if (!before) return;
        report.offline.push(clientId);
        await emitEvent(deps, 'devStatus', clientId, 'offline');
      }),
    () =>
      drain(deps.devices.expiredIds(now, REAPER_PAGE_SIZE), async (clientId) => {
        const removed = await deps.devices.reap(clientId, now);
        if (!removed) return;
        report.expired.push(clientId);
        await emitEvent(deps, 'devLeaving', clientId, removed.mac);
      }),
  ];
  for (const kind of kinds) {
    if (outOfTime()) {
      report.stoppedEarly = true;
      break;
    }
    const { left, stopped } = await kind();
    report.left += left;
    report.stoppedEarly ||= stopped;
  }

  /**
   * Works through `pages`, at most REAPER_CONCURRENCY items at once, reading the next page only
   * when the items read so far have all been started; starts nothing once out of time.
   */
  async function drain<T>(
    pages: AsyncIterable<T[]>,
    handle: (item: T) => Promise<void>,
  ): Promise<{ left: number; stopped: boolean }> {
    const iterator = pages[Symbol.asyncIterator]();
    const queue: T[] = [];
    let exhausted = false;
    let reading: Promise<void> | undefined;
    const read = () =>
      (reading ??= iterator
        .next()
        .then(
          (page) => (page.done ? (exhausted = true) : queue.push(...page.value)),
          (err: unknown) => {
            // The index cannot be read: this kind is done for this run.
            errors.push(err);
            exhausted = true;
          },
        )
        .then(() => (reading = undefined)));
    const worker = async () => {
      while (!outOfTime()) {
        if (queue.length > 0) await handle(queue.shift()!).catch((err: unknown) => void errors.push(err));
        else if (exhausted) return;
        else await read();
      }
    };
    await Promise.all(Array.from({ length: REAPER_CONCURRENCY }, worker));
    const stopped = queue.length > 0 || !exhausted;
    if (!exhausted) await iterator.return?.();
    return { left: queue.length, stopped };
  }

  const { expired, failedRegistrations, offline, left, stoppedEarly } = report;
  if (expired.length + failedRegistrations.length + offline.length > 0 || stoppedEarly) {
    deps.log.info(
      { expired: expired.length, failedRegistrations: failedRegistrations.length, offline: offline.length, left, stoppedEarly },
      stoppedEarly ? 'reaper run stopped at its deadline; the next run goes on' : 'reaper run',
    );
  }
  // Every task ran; the first failure fails the run (and is logged by whoever scheduled it).
  if (errors.length > 0) throw errors[0];
  return report;
}

/**
 * EventBridge schedule entry: the deadline is the function's own timeout, less
 * CLOUD_DEADLINE_MARGIN_MS (55 s in infra/stack.ts: work starts for 45 s).
 */
export const handler = scheduledEntry((deps, context) =>
  reaper(deps, context ? { timeLeftMs: () => context.getRemainingTimeInMillis() - CLOUD_DEADLINE_MARGIN_MS } : {}),
);
