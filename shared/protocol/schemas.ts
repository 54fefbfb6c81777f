import { z } from 'zod';

/**
 * Message schemas of every client channel (docs/PROTOCOL.md, "Messages"). Every channel that
 * answers refuses an unknown field with 400: a message that says more than the protocol does is
 * not one the server may act on (a deregister with a valid transId and stray fields must not
 * remove a device). A device's response to a server request keeps only the fields the protocol
 * defines; the rest is dropped and logged (functions/response.ts), since nothing answers it.
 */
export const MAX_OBJLIST_ENTRIES = 1024;
const MAX_ID_LENGTH = 64;

const transId = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const idSchema = z.union([z.number().int().min(0).max(0xffffffff), z.string().min(1).max(MAX_ID_LENGTH)]);
const text = (max: number) => z.string().max(max);
const lifetime = z
  .number()
  .int()
  .min(1)
  .max(10 * 365 * 86400);

const objListPairs = z.array(z.strictObject({ oid: idSchema, iid: idSchema })).max(MAX_OBJLIST_ENTRIES);
const objListRecord = z
  .record(z.string().min(1).max(MAX_ID_LENGTH), z.array(idSchema).max(MAX_OBJLIST_ENTRIES))
  .refine((r) => Object.values(r).reduce((n, iids) => n + iids.length, 0) <= MAX_OBJLIST_ENTRIES, {
    message: 'objList too large',
  })
  .refine((r) => Object.keys(r).length <= MAX_OBJLIST_ENTRIES, { message: 'objList too large' });
export const objListSchema = z.union([objListPairs, objListRecord]);

export const registerSchema = z.strictObject({
  transId,
  lifetime: lifetime.optional(),
  ip: text(64),
  mac: text(64).min(1),
  version: text(32).optional(),
  objList: objListSchema,
});

export const updateSchema = z
  .strictObject({
    transId,
    lifetime: lifetime.optional(),
    ip: text(64).optional(),
    mac: text(64).optional(),
    version: text(32).optional(),
    objList: objListSchema.optional(),
  })
  .refine((m) => [m.lifetime, m.ip, m.mac, m.version, m.objList].some((v) => v !== undefined), {
    message: 'update carries no attribute',
  });

export const transIdOnlySchema = z.strictObject({ transId });

export const notifySchema = z
  .strictObject({
    transId,
    oid: idSchema,
    iid: idSchema,
    rid: idSchema.optional(),
    data: z.unknown(),
  })
  .refine((m) => m.data !== undefined, { message: 'data is required', path: ['data'] })
  .refine(
    (m) =>
      m.rid !== undefined ||
      (m.data !== null && typeof m.data === 'object' && !Array.isArray(m.data) && Object.keys(m.data).length > 0),
    { message: 'an instance notify carries {rid: value}', path: ['data'] },
  )
  .refine(
    (m) =>
      m.rid !== undefined ||
      m.data === null ||
      typeof m.data !== 'object' ||
      Object.keys(m.data).every((k) => k.length >= 1 && k.length <= MAX_ID_LENGTH),
    { message: 'resource ids are 1..64 characters', path: ['data'] },
  );

export const scheduleSchema = z.strictObject({
  transId,
  sleep: z.boolean(),
  duration: z
    .number()
    .min(0)
    .max(10 * 365 * 86400)
    .optional(),
});

export const RESPONSE_FIELDS = ['transId', 'cmdId', 'status', 'data'] as const;

/** Unknown fields pass through here so that the response handler can name them when it drops them. */
export const responseSchema = z.looseObject({
  transId,
  cmdId: z.number().int().min(0).max(255),
  status: z.number().int().min(100).max(599),
  data: z.unknown().optional(),
});

export type RegisterMessage = z.infer<typeof registerSchema>;
export type UpdateMessage = z.infer<typeof updateSchema>;
export type NotifyMessage = z.infer<typeof notifySchema>;
export type ScheduleMessage = z.infer<typeof scheduleSchema>;
export type ResponseMessage = z.infer<typeof responseSchema>;

/** One line a person can act on, from the first zod issue. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid message';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'message';
  return `${where}: ${issue.message}`;
}
