import type { MessagePort } from 'node:worker_threads';
import { HttpResponse, type HttpRequest } from '@smithy/core/transport';
import type { HttpHandlerOptions } from '@smithy/types';

/**
 * The SDK's requests to the store thread of this process (local/store-thread.cjs), over a
 * MessagePort instead of HTTP on a loopback socket: the same request (method, headers, JSON body)
 * and the same answer (status, headers, body) reach dynalite's own request handler, without a TCP
 * connection, an HTTP encoder and parser on both ends, and two socket writes per call
 * (docs/PERFORMANCE.md, "The store in a thread").
 */

/** One request as the store thread reads it. */
export interface StoreRequest {
  id: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Its answer. */
export interface StoreAnswer {
  id: number;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Requests the store thread works on at once; the rest wait here, in order. Over HTTP the SDK's
 * handler had 50 sockets, so at most 50 requests were inside the store; without a limit every
 * notify of a large fleet is inside it at once, each holding its parsed request and its place in
 * dynalite's item locks, for no more throughput (docs/PERFORMANCE.md, "The store in a thread").
 */
export const STORE_REQUESTS_AT_ONCE = 50;

interface Waiting {
  resolve(answer: StoreAnswer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** Takes the abort listener off the caller's signal, which may outlive the call. */
  unlisten?: () => void;
}

/** Errors the SDK's retry strategy treats as transient, as it does a refused or timed-out socket. */
function transient(name: 'TimeoutError' | 'Error', message: string, code?: string): Error {
  return Object.assign(new Error(message), { name }, code ? { code } : {});
}

const decoder = new TextDecoder();

/** A request handler for the SDK's DynamoDB client that talks to the store thread through `port`. */
export class StoreChannelHandler {
  readonly metadata = { handlerProtocol: 'lwmqn-store-thread' };
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();
  /** Requests not sent yet, because STORE_REQUESTS_AT_ONCE are in the store thread. */
  private readonly queued: StoreRequest[] = [];
  private sent = 0;
  private closed = false;

  /** `attemptTimeoutMs`: one attempt's limit (shared/call-budget.ts), as the HTTP handler's requestTimeout. */
  constructor(
    private readonly port: MessagePort,
    private readonly attemptTimeoutMs: number,
  ) {
    port.on('message', (answer: StoreAnswer) => {
      this.sent--;
      this.sendQueued();
      this.settle(answer.id, (w) => w.resolve(answer));
    });
    // The thread ended (terminated, or crashed): nothing will answer, so every call fails now,
    // as calls to a store server that went away fail with a refused connection.
    port.once('close', () => {
      this.closed = true;
      this.queued.length = 0;
      for (const id of [...this.waiting.keys()]) {
        this.settle(id, (w) => w.reject(transient('Error', 'the store thread has ended', 'ECONNREFUSED')));
      }
    });
  }

  handle(request: HttpRequest, options: HttpHandlerOptions = {}): Promise<{ response: HttpResponse }> {
    if (this.closed) return Promise.reject(transient('Error', 'the store thread has ended', 'ECONNREFUSED'));
    const id = ++this.nextId;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
    const body = typeof request.body === 'string' ? request.body : request.body ? decoder.decode(request.body as Uint8Array) : '';
    // DynamoDB's JSON protocol puts everything in the body and the headers: its path is `/`, with no query.
    const message: StoreRequest = { id, method: request.method, path: request.path, headers, body };
    return new Promise<StoreAnswer>((resolve, reject) => {
      const timeoutMs = options.requestTimeout ?? this.attemptTimeoutMs;
      const timer = setTimeout(
        () => this.settle(id, (w) => w.reject(transient('TimeoutError', `the store thread did not answer within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const waiting: Waiting = { resolve, reject, timer };
      this.waiting.set(id, waiting);
      const signal = options.abortSignal as AbortSignal | undefined;
      const onAbort = () => this.settle(id, (w) => w.reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })));
      // Aborted before it was sent: the abort event has come and gone, so it would wait its whole attempt.
      if (signal?.aborted) return onAbort();
      if (signal?.addEventListener) {
        signal.addEventListener('abort', onAbort, { once: true });
        waiting.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      if (this.sent < STORE_REQUESTS_AT_ONCE) this.send(message);
      else this.queued.push(message);
    }).then((answer) => ({
      response: new HttpResponse({ statusCode: answer.status, headers: answer.headers, body: Buffer.from(answer.body) }),
    }));
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {}

  private send(message: StoreRequest): void {
    this.sent++;
    this.port.postMessage(message);
  }

  private sendQueued(): void {
    while (this.sent < STORE_REQUESTS_AT_ONCE && this.queued.length > 0) {
      const next = this.queued.shift()!;
      // Timed out or aborted while it waited: the SDK has moved on, the store need not do it.
      if (this.waiting.has(next.id)) this.send(next);
    }
  }

  private settle(id: number, how: (w: Waiting) => void): void {
    const w = this.waiting.get(id);
    if (!w) return; // answered after its attempt timed out: the SDK has moved on
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.unlisten?.();
    how(w);
  }
}
