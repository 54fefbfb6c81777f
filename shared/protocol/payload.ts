/**
 * Turns the base64 payload of a channel message into a JSON object, within fixed limits so
 * hostile input costs bounded memory and time (docs/PROTOCOL.md, "Handler input": even non-JSON reaches the handler).
 */
export const LIMITS = {
  /** Largest raw payload accepted, in bytes. A full objList of a large device stays far below. */
  maxPayloadBytes: 64 * 1024,
  /** Deepest nesting of objects/arrays accepted inside a payload. */
  maxDepth: 16,
};

export type Decoded = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string; value?: unknown };

// Keys that would reach Object.prototype when a parsed payload is merged into another object.
const POISONED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function decodeBase64Payload(payload: string): Decoded {
  if (typeof payload !== 'string') return { ok: false, reason: 'payload is not a string' };
  // base64 expands 3 bytes into 4 characters; refuse before decoding anything too large.
  if (payload.length > Math.ceil(LIMITS.maxPayloadBytes / 3) * 4 + 4) {
    return { ok: false, reason: 'payload too large' };
  }
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length > LIMITS.maxPayloadBytes) return { ok: false, reason: 'payload too large' };
  return decodeJsonObject(bytes.toString('utf8'));
}

export function decodeJsonObject(text: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: 'payload is not a JSON object', value };
  }
  const problem = checkShape(value);
  if (problem) return { ok: false, reason: problem, value };
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * Visits every value of a parsed JSON document with its depth (the root is 1) and returns the
 * first problem `check` reports. Iterative: a deeply nested document must not overflow the
 * stack while it is being checked.
 */
export function firstProblem(root: unknown, check: (node: unknown, depth: number) => string | undefined): string | undefined {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    const problem = check(node, depth);
    if (problem) return problem;
    if (node === null || typeof node !== 'object') continue;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return undefined;
}

function checkShape(root: unknown): string | undefined {
  return firstProblem(root, (node, depth) => {
    // JSON.parse turns a number beyond the double range (1e999) into Infinity, which no store holds.
    if (typeof node === 'number' && !Number.isFinite(node)) return 'number out of range';
    if (node === null || typeof node !== 'object') return undefined;
    if (depth > LIMITS.maxDepth) return 'payload nested too deeply';
    if (Array.isArray(node)) return undefined;
    const poisoned = Object.keys(node).find((key) => POISONED_KEYS.has(key));
    return poisoned === undefined ? undefined : `forbidden key ${poisoned}`;
  });
}

/** The transId to echo in a 400: the client's, when it is usable, else 0 (docs/PROTOCOL.md, "transId echo"). */
export function usableTransId(value: unknown): number {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const t = (value as Record<string, unknown>).transId;
    if (typeof t === 'number' && Number.isSafeInteger(t) && t >= 0) return t;
  }
  return 0;
}
