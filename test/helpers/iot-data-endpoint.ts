import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RecordingPublisher } from './recorder';

/**
 * A local stand-in for the IoT data plane's `Publish` REST call (`POST /topics/<topic>?qos=1`,
 * the payload as the body), for the Lambda entries: they publish through the real SDK client,
 * pointed here by `IOT_DATA_ENDPOINT`. Each publish lands in `published`.
 */
export interface IotDataEndpoint {
  url: string;
  /** Where publishes land; `reset()` starts a new recording. */
  published: RecordingPublisher;
  /** The `qos` query parameter of the latest publish on each topic since the last `reset()`. */
  qos: Map<string, string | null>;
  reset(): RecordingPublisher;
  close(): Promise<void>;
}

/**
 * The topic and `qos` of a data-plane `Publish` request (`POST /topics/<topic>?qos=N`); anything
 * else is answered 404 here, as the data plane does, and gives undefined.
 */
export function publishRequest(req: IncomingMessage, res: ServerResponse): { topic: string; qos: string | null } | undefined {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const match = /^\/topics\/(.+)$/.exec(url.pathname);
  if (req.method !== 'POST' || !match) {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}');
    return undefined;
  }
  return { topic: decodeURIComponent(match[1]), qos: url.searchParams.get('qos') };
}

/**
 * `answer: false` is the hung variant: each publish is recorded when its body has arrived, and
 * then never answered (the connection stays open until `close`), as a data plane that accepts
 * requests and stops responding.
 */
export async function startIotDataEndpoint({ answer = true }: { answer?: boolean } = {}): Promise<IotDataEndpoint> {
  const endpoint = { published: new RecordingPublisher(), qos: new Map() } as IotDataEndpoint;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const publish = publishRequest(req, res);
      if (!publish) return;
      const { topic } = publish;
      endpoint.qos.set(topic, publish.qos);
      void endpoint.published.publish(topic, Buffer.concat(chunks).toString('utf8'));
      if (!answer) return;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  endpoint.reset = () => {
    endpoint.qos.clear();
    return (endpoint.published = new RecordingPublisher());
  };
  endpoint.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // the hung variant's requests, still open
    });
  return endpoint;
}
