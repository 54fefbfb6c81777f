import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { serve } from '@hono/node-server';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hono } from 'hono';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { buildConsole } from '../console-assets';

/**
 * `lwmqn console --api <url>`: the web console for an API this machine does not serve (the cloud
 * deployment's, behind IAM). The console's files come from here; every API call goes on to
 * `<url>`, signed with SigV4 (service execute-api) from the user's AWS credentials, through the
 * SDK's own signer and credential chain (environment, profile, SSO, instance role...). The
 * browser never holds AWS credentials. Where the API has no event stream (API Gateway answers
 * GET /events with 501), the console polls and says so (console/api.ts).
 */
export interface ConsoleProxyOptions {
  /** The API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com */
  api: string;
  host: string;
  port: number;
  /** Sign with SigV4 for this region; undefined: send calls unsigned (a local API). */
  region?: string;
  /** A bearer token to send as well (LWMQN_API_TOKEN of a local API). */
  token?: string;
}

/** The region of an API Gateway URL (`<id>.execute-api.<region>.amazonaws.com`), if it is one. */
export function regionOfApiUrl(url: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(url).hostname)?.[1];
}

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the signer asks for. */
export class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** Request headers that describe this hop, not the call: not passed on, not signed. */
const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'accept-encoding', 'origin', 'referer', 'cookie']);

export async function startConsoleProxy(opts: ConsoleProxyOptions): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(opts.api.replace(/\/+$/, ''));
  const signer =
    opts.region === undefined
      ? undefined
      : new SignatureV4({ service: 'execute-api', region: opts.region, credentials: defaultProvider(), sha256: Sha256 });
  const assets = await buildConsole();

  const app = new Hono();
  app.get('/', (c) => c.body(assets.html, 200, { 'content-type': 'text/html; charset=utf-8' }));
  app.get('/console/app.js', (c) => c.body(assets.js, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/console/app.css', (c) => c.body(assets.css, 200, { 'content-type': 'text/css; charset=utf-8' }));
  app.all('*', async (c) => {
    const url = new URL(c.req.url);
    const body = ['GET', 'HEAD'].includes(c.req.method) ? undefined : await c.req.text();
    const headers: Record<string, string> = { host: target.host };
    c.req.raw.headers.forEach((value, name) => {
      if (!HOP_HEADERS.has(name) && name !== 'authorization') headers[name] = value;
    });
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const path = `${target.pathname.replace(/\/$/, '')}${url.pathname}`;
    const query = Object.fromEntries(url.searchParams);
    const signed = signer
      ? (
          await signer.sign({
            method: c.req.method,
            protocol: target.protocol,
            hostname: target.hostname,
            port: target.port ? Number(target.port) : undefined,
            path,
            query,
            headers,
            body,
          })
        ).headers
      : headers;
    let res: Response;
    try {
      res = await fetch(`${target.origin}${path}${url.search}`, { method: c.req.method, headers: signed, body });
    } catch (err) {
      return c.json({ error: `cannot reach the API at ${target.origin}: ${err instanceof Error ? err.message : String(err)}` }, 502);
    }
    const out = new Headers();
    for (const name of ['content-type', 'link', 'cache-control']) {
      const value = res.headers.get(name);
      if (value !== null) out.set(name, value);
    }
    return new Response(res.body, { status: res.status, headers: out });
  });

  const server = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port });
  await new Promise<void>((ok, fail) => {
    if (server.listening) return ok();
    server.once('listening', ok);
    server.once('error', fail);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
