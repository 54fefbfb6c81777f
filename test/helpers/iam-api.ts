import { serve } from '@hono/node-server';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '../../local/cli/console-proxy';

/**
 * A stand-in for the cloud API behind IAM (API Gateway with AWS_IAM authorization): every
 * request must carry a SigV4 signature for `execute-api` in `region` made with the one key pair
 * given; the signature is computed again here from what arrived and compared. What passes goes
 * to `app` (functions/api.ts, without an event stream, as in the Lambda runtime).
 */
export interface IamApi {
  url: string;
  accepted: number;
  refused: string[];
  close(): Promise<void>;
}

export async function startIamApi(
  app: { fetch: (req: Request) => Response | Promise<Response> },
  credentials: { accessKeyId: string; secretAccessKey: string },
  region: string,
): Promise<IamApi> {
  const signer = new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256 });
  const state = { accepted: 0, refused: [] as string[] };
  const front = new Hono();
  front.all('*', async (c) => {
    const auth = c.req.header('authorization') ?? '';
    const date = c.req.header('x-amz-date') ?? '';
    const signedNames = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
    const url = new URL(c.req.url);
    const body = ['GET', 'HEAD'].includes(c.req.method) ? undefined : await c.req.text();
    const headers: Record<string, string> = {};
    for (const name of signedNames) headers[name] = c.req.header(name) ?? '';
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
    let ok = false;
    if (m && auth.includes(`Credential=${credentials.accessKeyId}/`)) {
      const [, y, mo, d, h, mi, s] = m;
      const expected = await signer.sign(
        {
          method: c.req.method,
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers,
          body,
        },
        { signingDate: new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s)) },
      );
      ok = expected.headers.authorization === auth;
    }
    if (!ok) {
      state.refused.push(`${c.req.method} ${url.pathname}`);
      return c.json({ message: 'Forbidden' }, 403);
    }
    state.accepted++;
    return app.fetch(new Request(c.req.url, { method: c.req.method, headers: c.req.raw.headers, body }));
  });
  const server = serve({ fetch: front.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((ok) => (server.listening ? ok() : server.once('listening', () => ok())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get accepted() {
      return state.accepted;
    },
    refused: state.refused,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
