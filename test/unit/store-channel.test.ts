import { getEventListeners } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { HttpRequest } from '@smithy/core/transport';
import { StoreChannelHandler, type StoreAnswer, type StoreRequest } from '../../local/store-channel';

/**
 * The SDK's side of the store thread's channel, against a port this test answers itself
 * (test/integration/store-thread.test.ts runs it against the real store thread).
 */
let ours: MessagePort;
let theirs: MessagePort;
const received: StoreRequest[] = [];
beforeEach(() => {
  ({ port1: ours, port2: theirs } = new MessageChannel());
  received.length = 0;
  theirs.on('message', (m: StoreRequest) => received.push(m));
});
afterEach(() => {
  ours.close();
  theirs.close();
});

const request = (body: string | Uint8Array = '{"TableName":"t"}') =>
  new HttpRequest({
    method: 'POST',
    hostname: '127.0.0.1',
    path: '/',
    headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.GetItem' },
    body,
  });

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

test('a request goes over as method, path, lower-case headers and its body; the answer comes back as the SDK reads one', async () => {
  const handler = new StoreChannelHandler(ours, 5_000);
  const pending = handler.handle(request());
  await until(() => received.length === 1);
  expect(received[0]).toEqual({
    id: expect.any(Number),
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.GetItem' },
    body: '{"TableName":"t"}',
  });
  const answer: StoreAnswer = {
    id: received[0].id,
    status: 400,
    headers: { 'x-amzn-requestid': 'r1' },
    body: '{"__type":"x#Oops"}',
  };
  theirs.postMessage(answer);
  const { response } = await pending;
  expect(response.statusCode).toBe(400);
  expect(response.headers).toEqual({ 'x-amzn-requestid': 'r1' });
  expect(Buffer.from(response.body as Uint8Array).toString()).toBe('{"__type":"x#Oops"}');
});

test('a body given as bytes is sent as its text; answers are matched to their requests by id, in any order', async () => {
  const handler = new StoreChannelHandler(ours, 5_000);
  const one = handler.handle(request(new TextEncoder().encode('{"n":1}')));
  const two = handler.handle(request('{"n":2}'));
  await until(() => received.length === 2);
  expect(received.map((r) => r.body)).toEqual(['{"n":1}', '{"n":2}']);
  theirs.postMessage({ id: received[1].id, status: 200, headers: {}, body: 'second' });
  theirs.postMessage({ id: received[0].id, status: 200, headers: {}, body: 'first' });
  const bodies = await Promise.all([one, two].map(async (p) => Buffer.from((await p).response.body as Uint8Array).toString()));
  expect(bodies).toEqual(['first', 'second']);
});

test('an attempt not answered within its limit fails as a timeout (the SDK retries it); a late answer is ignored', async () => {
  const handler = new StoreChannelHandler(ours, 40);
  await expect(handler.handle(request())).rejects.toMatchObject({
    name: 'TimeoutError',
    message: expect.stringMatching(/within 40 ms/),
  });
  theirs.postMessage({ id: received[0].id, status: 200, headers: {}, body: 'too late' });
  // The SDK's own requestTimeout, when it passes one, wins over the handler's.
  await expect(handler.handle(request(), { requestTimeout: 10 })).rejects.toThrow(/within 10 ms/);
});

test('when the thread ends, waiting calls fail as a refused connection, and so does every later call', async () => {
  const handler = new StoreChannelHandler(ours, 5_000);
  const waiting = handler.handle(request());
  await until(() => received.length === 1);
  theirs.close();
  await expect(waiting).rejects.toMatchObject({ code: 'ECONNREFUSED', message: 'the store thread has ended' });
  await expect(handler.handle(request())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});

test('an aborted call fails at once as aborted', async () => {
  const handler = new StoreChannelHandler(ours, 5_000);
  const abort = new AbortController();
  const call = handler.handle(request(), { abortSignal: abort.signal });
  abort.abort();
  await expect(call).rejects.toMatchObject({ name: 'AbortError' });
});

test('a call whose signal was aborted before it is sent fails at once and is not sent', async () => {
  const handler = new StoreChannelHandler(ours, 5_000);
  const abort = new AbortController();
  abort.abort();
  await expect(handler.handle(request(), { abortSignal: abort.signal })).rejects.toMatchObject({ name: 'AbortError' });
  await new Promise((r) => setTimeout(r, 20));
  expect(received).toHaveLength(0);
});

test("a call that settles takes its abort listener off the caller's signal, which may serve many calls", async () => {
  const handler = new StoreChannelHandler(ours, 5_000);
  const abort = new AbortController();
  theirs.on('message', (m: StoreRequest) =>
    theirs.postMessage({ id: m.id, status: 200, headers: {}, body: '{}' } satisfies StoreAnswer),
  );
  const calls = [handler.handle(request(), { abortSignal: abort.signal }), handler.handle(request(), { abortSignal: abort.signal })];
  expect(getEventListeners(abort.signal, 'abort')).toHaveLength(2);
  await Promise.all(calls);
  expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
});
