import { eventually } from '../helpers/poll';
import { http, makeNode, nodeCall, startWorld, type E2eWorld } from '../helpers/mqtt-node';

/**
 * `GET /events` (docs/PROTOCOL.md, "Events"): every event the server emits reaches a connected client
 * as a server-sent event `event: <type>` / `data: {type, clientId, data, timestamp}`.
 */

interface SseMessage {
  event?: string;
  data: string;
}

/** A client of the stream: fetch, then parse the SSE framing as it arrives. */
class SseClient {
  readonly messages: SseMessage[] = [];
  private readonly abort = new AbortController();
  private done: Promise<void> = Promise.resolve();
  status = 0;
  contentType = '';

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    const res = await fetch(url, { headers, signal: client.abort.signal });
    client.status = res.status;
    client.contentType = res.headers.get('content-type') ?? '';
    if (res.ok && res.body) client.done = client.pump(res.body);
    return client;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const msg: SseMessage = { data: '' };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue; // a comment (keep-alive)
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') msg.event = value;
            else if (field === 'data') data.push(value);
          }
          if (msg.event === undefined && data.length === 0) continue;
          msg.data = data.join('\n');
          this.messages.push(msg);
        }
      }
    } catch {
      // aborted by close()
    }
  }

  /** The parsed events of `type` (from the `data` field) for `clientId`. */
  events(clientId: string, type?: string): any[] {
    return this.messages
      .filter((m) => m.event !== 'ready')
      .map((m) => ({ sse: m.event, ...JSON.parse(m.data) }))
      .filter((e) => e.clientId === clientId && (type === undefined || e.type === type));
  }

  async waitFor(clientId: string, type: string, match: (e: any) => boolean = () => true): Promise<any> {
    return eventually(() => {
      const hit = this.events(clientId, type).find(match);
      if (!hit) throw new Error(`no ${type} for ${clientId} on the stream; got ${JSON.stringify(this.messages)}`);
      return hit;
    });
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

let world: E2eWorld;
const listeners = () =>
  (world.stack.bus as unknown as { emitter: { listenerCount(e: string): number } }).emitter.listenerCount('event');

beforeAll(async () => {
  world = await startWorld();
});

afterAll(async () => {
  await world?.close();
});

test("the stream opens with a ready message and carries every event type of a device's life", async () => {
  const sse = await SseClient.open(`${world.stack.apiUrl}/events`);
  try {
    expect(sse.status).toBe(200);
    expect(sse.contentType).toMatch(/^text\/event-stream/);
    await eventually(() => expect(sse.messages[0]).toEqual({ event: 'ready', data: '{}' }));

    const ID = 'sse-1';
    const dev = await world.node(ID);

    const incoming = await sse.waitFor(ID, 'devIncoming');
    expect(incoming.data).toMatchObject({ clientId: ID, lifetime: 600, objList: { '3303': [0] } });
    const online = await sse.waitFor(ID, 'devStatus');
    expect(online.data).toBe('online');

    expect((await nodeCall((cb) => dev.node.notify({ oid: 3303, iid: 0, rid: 5700, data: 26.5 }, cb))).status).toBe(204);
    const notify = await sse.waitFor(ID, 'devNotify');
    expect(notify.data).toEqual({ oid: 3303, iid: 0, rid: 5700, data: 26.5 });
    const change = await sse.waitFor(ID, 'devChange');
    expect(change.data).toEqual({ oid: 3303, iid: 0, rid: 5700, data: 26.5 });

    expect((await nodeCall((cb) => dev.node.update({ version: '0.0.2' }, cb))).status).toBe(204);
    const update = await sse.waitFor(ID, 'devUpdate');
    expect(update.data).toEqual({ version: '0.0.2' });

    expect((await nodeCall((cb) => dev.node.checkout(cb))).status).toBe(200);
    const asleep = await sse.waitFor(ID, 'devStatus', (e) => e.data === 'sleep');
    expect(asleep.data).toBe('sleep');

    expect((await nodeCall((cb) => dev.node.deregister(cb))).status).toBe(202);
    const leaving = await sse.waitFor(ID, 'devLeaving');
    expect(leaving.data).toBe(dev.node.mac);

    // Framing: the SSE event name is the event's type; every payload has the shape of docs/PROTOCOL.md, "Events".
    const all = sse.events(ID);
    expect(new Set(all.map((e) => e.type))).toEqual(
      new Set(['devIncoming', 'devStatus', 'devNotify', 'devChange', 'devUpdate', 'devLeaving']),
    );
    for (const e of all) {
      expect(e.sse).toBe(e.type);
      expect(Object.keys(e).sort()).toEqual(['clientId', 'data', 'sse', 'timestamp', 'type']);
      expect(typeof e.timestamp).toBe('number');
    }
    // In the order they were emitted.
    const order = all.map((e) => e.type);
    expect(order.indexOf('devIncoming')).toBeLessThan(order.indexOf('devNotify'));
    expect(order.indexOf('devNotify')).toBeLessThan(order.indexOf('devUpdate'));
    expect(order.lastIndexOf('devStatus')).toBeLessThan(order.indexOf('devLeaving'));
  } finally {
    await sse.close();
  }
});

test('a device that drops off without deregistering is reported offline (devStatus from its will)', async () => {
  const sse = await SseClient.open(`${world.stack.apiUrl}/events`);
  try {
    await eventually(() => expect(sse.messages[0]?.event).toBe('ready'));
    const ID = 'sse-lwt';
    const n = makeNode(ID);
    world.nodes.push(n);
    expect((await n.connect(world.broker.url)).status).toBe(201);
    await sse.waitFor(ID, 'devIncoming');
    // The LWMQN will a device would leave behind, as the broker publishes it when it vanishes.
    await new Promise<void>((resolve, reject) =>
      n.node.mc.publish(`lwt/${ID}`, 'offline', {}, (err?: Error) => (err ? reject(err) : resolve())),
    );
    const offline = await sse.waitFor(ID, 'devStatus', (e) => e.data === 'offline');
    expect(offline).toMatchObject({ type: 'devStatus', clientId: ID, data: 'offline' });
  } finally {
    await sse.close();
  }
});

test('every connected client gets the events, and a client that leaves is unsubscribed', async () => {
  // The clients of the earlier tests have gone, and so have their subscriptions.
  await eventually(() => expect(listeners()).toBe(0));
  const a = await SseClient.open(`${world.stack.apiUrl}/events`);
  const b = await SseClient.open(`${world.stack.apiUrl}/events`);
  try {
    await eventually(() => expect(listeners()).toBe(2));
    const ID = 'sse-2';
    await world.node(ID);
    const fromA = await a.waitFor(ID, 'devIncoming');
    const fromB = await b.waitFor(ID, 'devIncoming');
    expect(fromA).toEqual(fromB);

    await a.close();
    await eventually(() => expect(listeners()).toBe(1));

    const answer = await http(world.stack.apiUrl, 'DELETE', `/devices/${ID}`);
    expect(answer.status).toBe(200);
    const leaving = await b.waitFor(ID, 'devLeaving');
    expect(leaving.clientId).toBe(ID);
    expect(a.events(ID, 'devLeaving')).toEqual([]);
  } finally {
    await a.close();
    await b.close();
  }
  await eventually(() => expect(listeners()).toBe(0));
});
