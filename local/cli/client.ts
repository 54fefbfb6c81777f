import { nextPageOf } from '../../shared/next-page';

/** A small client of the management API for the CLI; errors carry the API's own reason. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** An answer of the API: its HTTP status and its body (JSON, or the text when it is not JSON). */
export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  /** The path of the next page (a `Link: <...>; rel="next"` header), for a paged list. */
  next?: string;
}

export interface ApiClient {
  base: string;
  /** `T` is what the API answers with on success; an error answer's body is `{ error }` instead. */
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>>;
  /** A paged list (GET /devices), every page followed: the items of all, or the first error answer. */
  all<T = unknown>(path: string): Promise<ApiAnswer<T[]>>;
  stream(path: string): Promise<Response>;
}

export function apiClient(base: string, token?: string): ApiClient {
  const root = base.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const reach = async (path: string, init: RequestInit): Promise<Response> => {
    try {
      return await fetch(`${root}${path}`, { ...init, headers });
    } catch {
      throw new ApiError(`cannot reach the API at ${root} (is the server running? start it with: lwmqn start)`, 2);
    }
  };
  return {
    base: root,
    async call<T>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
      const res = await reach(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? (JSON.parse(text) as unknown) : null;
      } catch {
        // not JSON: keep the text as the reason
      }
      const next = nextPageOf(res.headers.get('link'));
      return { status: res.status, body: parsed as T, ...(next ? { next } : {}) };
    },
    async all<T>(path: string): Promise<ApiAnswer<T[]>> {
      const items: T[] = [];
      for (let page: string | undefined = path; page !== undefined;) {
        const answer: ApiAnswer<T[]> = await this.call<T[]>('GET', page);
        if (answer.status !== 200 || !Array.isArray(answer.body)) return answer;
        items.push(...answer.body);
        page = answer.next;
      }
      return { status: 200, body: items };
    },
    stream: (path) => reach(path, { method: 'GET' }),
  };
}
