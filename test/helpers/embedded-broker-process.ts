/**
 * The embedded broker alone in a child process, for tests: jest's module loader cannot load
 * aedes (an ES module) on Node 20, Node itself can. Settings come from the environment as for
 * `npm start`; prints one JSON line, {url, tlsUrl, bridgeLogin} or {error}, and runs until killed.
 */
import { embeddedBrokerSettings, startEmbeddedBroker } from '../../local/embedded-broker';

const log = {
  debug() {},
  info() {},
  warn(obj: object, msg?: string) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...obj })}\n`);
  },
  error(obj: object, msg?: string) {
    process.stderr.write(`${JSON.stringify({ level: 'error', msg, ...obj })}\n`);
  },
};

Promise.resolve()
  .then(() => startEmbeddedBroker({ ...embeddedBrokerSettings(process.env), log }))
  .then(
    (broker) => {
      process.stdout.write(`${JSON.stringify({ url: broker.url, tlsUrl: broker.tlsUrl, bridgeLogin: broker.bridgeLogin })}\n`);
      const stop = () => void broker.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (err: Error) => {
      process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
      process.exit(1);
    },
  );
