import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { listen, type Running } from './embedded-store';

/**
 * The embedded broker of `npm start` when MQTT_URL is unset. aedes is an ES module: this file
 * is loaded only when it is needed, so the rest of the stack stays loadable everywhere.
 */
export async function startEmbeddedBroker(host: string, port: number): Promise<Running> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await listen(server, host, port);
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
