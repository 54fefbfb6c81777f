/** A small client of the management API for the CLI; errors carry the API's own reason. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface ApiClient {
  base: string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
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
    async call(method, path, body) {
      const res = await reach(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text as the reason
      }
      return { status: res.status, body: parsed };
    },
    stream: (path) => reach(path, { method: 'GET' }),
  };
}
