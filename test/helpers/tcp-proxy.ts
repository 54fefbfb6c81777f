import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from './ports';

/**
 * A TCP proxy on a fixed loopback port in front of a service (the DynamoDB-compatible store),
 * that a test can cut and restore:
 * - `refuse`: the port is closed and every open connection is reset (the store is down);
 * - `blackhole`: connections are accepted and never answered (the store hangs, a network drop).
 * `restore()` reopens the same port and forwards again.
 */
export type CutMode = 'refuse' | 'blackhole';

export class CuttableProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private mode: 'open' | CutMode = 'open';

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(await freePort(), targetPort);
    await proxy.listen();
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get state(): 'open' | CutMode {
    return this.mode;
  }

  async cut(mode: CutMode): Promise<void> {
    this.mode = mode;
    this.dropConnections();
    if (mode === 'refuse') await this.unlisten();
  }

  async restore(): Promise<void> {
    this.mode = 'open';
    // Connections held in the blackhole never get an answer: reset them so their callers retry.
    this.dropConnections();
    if (!this.server) await this.listen();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await this.unlisten();
  }

  private listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  private unlisten(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    return server ? new Promise((resolve) => server.close(() => resolve())) : Promise.resolve();
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.mode !== 'open') return; // blackhole: read nothing, answer nothing
    const upstream = connect(this.targetPort, '127.0.0.1');
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private dropConnections(): void {
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }
}
