import pino from 'pino';
import { startStack } from './stack';

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
