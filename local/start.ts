import { setFlagsFromString } from 'node:v8';
import pino from 'pino';
import { HEAP_GROWTH_FLAG } from './embedded-store';
import { startStack } from './stack';

// Read by V8 at each collection, so it works set here, for every way this file is started.
setFlagsFromString(HEAP_GROWTH_FLAG);

/** How long a shutdown may take before the process exits without finishing it. */
const SHUTDOWN_GRACE_MS = 10_000;

/** `npm start`: the whole local stack until SIGINT/SIGTERM, then a clean shutdown. */
async function main(): Promise<void> {
  const log = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const stack = await startStack(process.env, log);
  log.info({ mqtt: stack.mqttUrl, api: stack.apiUrl }, 'LWMQN server ready');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight messages');
    // In-flight work waits for the broker's acknowledgements; with the broker gone it never
    // gets them, and a signal must still stop the process. Nothing is lost by giving up: the
    // bridge acknowledges a message only once handled, so the broker delivers it again.
    // Not unref'd: a shutdown stuck on a promise that nothing settles must end in this error and
    // exit 1, not in a silent exit 0 once the event loop runs empty.
    setTimeout(() => {
      log.error(
        { graceMs: SHUTDOWN_GRACE_MS, waitingFor: stack.closingStep() },
        'shutdown did not finish (broker or store unreachable?): exiting anyway',
      );
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    await stack.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(`lwmqn: could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
