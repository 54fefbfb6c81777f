import type { ChannelMessage, Deps } from '../../shared/deps';
import type { ClientChannel } from '../../shared/protocol/topics';

/**
 * The Lambda entries of the channel handlers and the reaper. The cloud runtime (its SDK clients
 * and Powertools, functions/lambda/runtime.ts) is loaded by the first invocation, not with the
 * handler's module: the local server imports the same modules (functions/index.ts), never runs
 * an entry, and would hold the cloud clients' code for nothing (docs/PERFORMANCE.md, "A lighter
 * start").
 */
// require(), not import(): under `node --require tsx/cjs` an import() of a .ts file fails.
let loaded: typeof import('./runtime') | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtime = () => (loaded ??= require('./runtime') as typeof import('./runtime'));

/** A channel entry for a topic rule's Lambda action. Errors propagate so the invocation is retried. */
export function channelEntry(channel: ClientChannel, handle: (message: ChannelMessage, deps: Deps) => Promise<void>) {
  return async (event: ChannelMessage): Promise<void> => {
    const { depsFromEnv, metrics } = runtime();
    const deps = await depsFromEnv();
    const started = performance.now();
    let failed = true;
    try {
      await handle(event, deps);
      failed = false;
    } finally {
      metrics.handled(channel, (performance.now() - started) / 1000, failed);
      metrics.flush();
    }
  };
}

/** What a scheduled entry uses of the Lambda context: how long the invocation may still run. */
export interface ScheduleContext {
  getRemainingTimeInMillis(): number;
}

/** An entry for a schedule (the reaper); it learns its deadline from the Lambda context. */
export function scheduledEntry<T>(run: (deps: Deps, context?: ScheduleContext) => Promise<T>) {
  return async (_event?: unknown, context?: ScheduleContext): Promise<T> => {
    const { depsFromEnv, metrics } = runtime();
    try {
      return await run(await depsFromEnv(), context);
    } finally {
      metrics.flush();
    }
  };
}
