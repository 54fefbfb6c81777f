import { nextPageOf } from '../shared/next-page';
import type { LwmqnEvent } from '../shared/ports';

/**
 * Calls to the management API from the browser. The token (LWMQN_API_TOKEN) is asked for once
 * when the API answers 401, kept in sessionStorage and sent as `Authorization: Bearer` on every
 * call, the event stream included: it is read with fetch(), not EventSource, so it carries the
 * same header and the token never goes into a URL.
 */
const TOKEN_KEY = 'lwmqn-token';

// The API's shapes, as the server defines them (GET /devices answers DeviceRecords).
export type { LwmqnEvent } from '../shared/ports';
export type { DeviceRecord, DeviceStatus, ObjectTree } from '../shared/store/model';

export interface Answer {
  status: number;
  body: unknown;
  /** The next page of a paged list (the `Link: <...>; rel="next"` header). */
  next?: string;
}

/** Shows the token form; resolves once a token is stored. `wrong`: the last one was refused. */
type TokenPrompt = (wrong: boolean) => Promise<void>;
let prompt: TokenPrompt = () => Promise.reject(new Error('the API needs a token'));
let asking: Promise<void> | undefined;

export function setTokenPrompt(p: TokenPrompt): void {
  prompt = p;
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

function authHeaders(): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Every 401 at the same time waits for the one form. */
function needToken(): Promise<void> {
  const wrong = sessionStorage.getItem(TOKEN_KEY) !== null;
  asking ??= prompt(wrong).finally(() => (asking = undefined));
  return asking;
}

export async function api(method: string, path: string, body?: unknown): Promise<Answer> {
  for (;;) {
    const res = await fetch(path, {
      method,
      headers: { ...authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) {
      await needToken();
      continue;
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    const next = nextPageOf(res.headers.get('link'));
    return { status: res.status, body: parsed, ...(next ? { next } : {}) };
  }
}

export const devicePath = (id: string) => `/devices/${encodeURIComponent(id)}`;

export type StreamState = 'live' | 'reconnecting' | 'polling';

/**
 * Reads `GET /events` until stopped, reconnecting after a failure. `onState('live')` comes at
 * each (re)connection, when what was missed meanwhile should be fetched again; 'polling' when the
 * API has no event stream (501: the cloud API behind API Gateway), and the stream is not tried again.
 */
export function streamEvents(onEvent: (event: LwmqnEvent) => void, onState: (state: StreamState) => void): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch('/events', { headers: authHeaders(), signal: controller.signal });
        if (res.status === 401) {
          await needToken();
          continue;
        }
        if (res.status === 501) {
          onState('polling');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`GET /events answered ${res.status}`);
        await readSse(res.body, (type, data) => {
          if (type === 'ready') onState('live');
          else onEvent(JSON.parse(data) as LwmqnEvent);
        });
      } catch {
        // the stream broke: try again below
      }
      if (stopped) break;
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

/** The server-sent events format: `event:` and `data:` lines, a blank line ends an event. */
async function readSse(body: ReadableStream<Uint8Array>, dispatch: (type: string, data: string) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let type = 'message';
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, '');
      buffer = buffer.slice(end + 1);
      if (line === '') {
        if (data.length > 0) dispatch(type, data.join('\n'));
        type = 'message';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') type = text;
        else if (field === 'data') data.push(text);
      }
    }
  }
}
