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
