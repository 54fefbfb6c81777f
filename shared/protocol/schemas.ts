import * as z from 'zod/mini';
import type { $ZodError } from 'zod/v4/core';
import { en } from 'zod/v4/locales';

/**
 * Message schemas of every client channel (docs/PROTOCOL.md, "Messages"). Every channel that
 * answers refuses an unknown field with 400: a message that says more than the protocol does is
 * not one the server may act on (a deregister with a valid transId and stray fields must not
 * remove a device). A device's response to a server request keeps only the fields the protocol
 * defines; the rest is dropped and logged (functions/response.ts), since nothing answers it.
 *
 * Written with zod/mini, not zod: the same checks and messages, but esbuild keeps only what these
 * schemas use, so a channel function's bundle loads about 50 ms faster than with all of zod
 * (docs/DEPLOY.md, "Cold start"). The English messages are the one locale configured here
 * (zod/mini configures none; zod does the same at its own import, in the API).
 */
z.config(en());

export const MAX_OBJLIST_ENTRIES = 1024;
const MAX_ID_LENGTH = 64;

const int = (min: number, max: number) => z.number().check(z.int(), z.minimum(min), z.maximum(max));
const transId = int(0, Number.MAX_SAFE_INTEGER);
export const idSchema = z.union([int(0, 0xffffffff), z.string().check(z.minLength(1), z.maxLength(MAX_ID_LENGTH))]);
const text = (max: number, min = 0) => z.string().check(z.minLength(min), z.maxLength(max));
const lifetime = int(1, 10 * 365 * 86400);

const objListPairs = z.array(z.strictObject({ oid: idSchema, iid: idSchema })).check(z.maxLength(MAX_OBJLIST_ENTRIES));
const objListRecord = z.record(text(MAX_ID_LENGTH, 1), z.array(idSchema).check(z.maxLength(MAX_OBJLIST_ENTRIES))).check(
  z.refine((r) => Object.values(r).reduce((n, iids) => n + iids.length, 0) <= MAX_OBJLIST_ENTRIES, {
    message: 'objList too large',
  }),
  z.refine((r) => Object.keys(r).length <= MAX_OBJLIST_ENTRIES, { message: 'objList too large' }),
);
export const objListSchema = z.union([objListPairs, objListRecord]);

export const registerSchema = z.strictObject({
  transId,
  lifetime: z.optional(lifetime),
  ip: text(64),
  mac: text(64, 1),
  version: z.optional(text(32)),
  objList: objListSchema,
});

export const updateSchema = z
  .strictObject({
    transId,
    lifetime: z.optional(lifetime),
    ip: z.optional(text(64)),
    mac: z.optional(text(64)),
    version: z.optional(text(32)),
    objList: z.optional(objListSchema),
  })
  .check(
    z.refine((m) => [m.lifetime, m.ip, m.mac, m.version, m.objList].some((v) => v !== undefined), {
      message: 'update carries no attribute',
    }),
  );

export const transIdOnlySchema = z.strictObject({ transId });

export const notifySchema = z
  .strictObject({
    transId,
    oid: idSchema,
    iid: idSchema,
    rid: z.optional(idSchema),
    data: z.unknown(),
  })
  .check(
    z.refine((m) => m.data !== undefined, { message: 'data is required', path: ['data'] }),
    z.refine(
      (m) =>
        m.rid !== undefined ||
        (m.data !== null && typeof m.data === 'object' && !Array.isArray(m.data) && Object.keys(m.data).length > 0),
      { message: 'an instance notify carries {rid: value}', path: ['data'] },
    ),
    z.refine(
      (m) =>
        m.rid !== undefined ||
        m.data === null ||
        typeof m.data !== 'object' ||
        Object.keys(m.data).every((k) => k.length >= 1 && k.length <= MAX_ID_LENGTH),
      { message: 'resource ids are 1..64 characters', path: ['data'] },
    ),
  );

export const scheduleSchema = z.strictObject({
  transId,
  sleep: z.boolean(),
  duration: z.optional(z.number().check(z.minimum(0), z.maximum(10 * 365 * 86400))),
});

export const RESPONSE_FIELDS = ['transId', 'cmdId', 'status', 'data'] as const;

/** Unknown fields pass through here so that the response handler can name them when it drops them. */
export const responseSchema = z.looseObject({
  transId,
  cmdId: int(0, 255),
  status: int(100, 599),
  data: z.optional(z.unknown()),
});

export type RegisterMessage = z.infer<typeof registerSchema>;
export type UpdateMessage = z.infer<typeof updateSchema>;
export type NotifyMessage = z.infer<typeof notifySchema>;
export type ScheduleMessage = z.infer<typeof scheduleSchema>;
export type ResponseMessage = z.infer<typeof responseSchema>;

/** One line a person can act on, from the first zod issue (of these schemas or the API's). */
export function describeIssue(error: $ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid message';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'message';
  return `${where}: ${issue.message}`;
}
