/** Status codes (docs/PROTOCOL.md, "Status codes"): CoAP-style numbers, as LWMQN uses them. */
export const Status = {
  OK: 200,
  Created: 201,
  Deleted: 202,
  Changed: 204,
  Content: 205,
  BadRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  NotAllowed: 405,
  Timeout: 408,
  Conflict: 409,
  InternalServerError: 500,
} as const;

/** Each status in words, as people read them (the CLI, the console). */
const STATUS_WORDS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Deleted',
  204: 'Changed',
  205: 'Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Timeout',
  409: 'Conflict',
  500: 'Internal Server Error',
};

/** "205 Content"; a status without words is followed by `unknown` (nothing by default). */
export const statusWords = (status: number, unknown = ''): string => `${status} ${STATUS_WORDS[status] ?? unknown}`.trim();
