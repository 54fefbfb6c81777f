import { z } from 'zod';
import type { CommandName } from '../shared/protocol/cmd-ids';
import { DEVICE_STATUSES } from '../shared/store/model';

/**
 * The management API's bodies and answers as zod schemas: functions/api.ts validates requests
 * with them and functions/openapi.ts describes the API from them, so the description cannot
 * drift from what is enforced. The answer schemas are checked against real answers in
 * test/e2e/openapi.test.ts.
 */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_ANNOUNCE_BYTES = 16 * 1024;
export const MAX_PERMIT_SECONDS = 7 * 86_400;
/** A page of GET /devices: at about 300 bytes a record, 5,000 stay far under Lambda's 6 MB answer. */
export const DEFAULT_PAGE = 1000;
export const MAX_PAGE = 5000;

const path = z.string().describe('oid[/iid[/rid]], numbers or IPSO names: 3303/0/5700 or temperature/0/sensorValue');

export const attrsSchema = z.strictObject({
  pmin: z.number().min(0).optional(),
  pmax: z.number().min(0).optional(),
  gt: z.number().optional(),
  lt: z.number().optional(),
  stp: z.number().min(0).optional(),
  cancel: z.boolean().optional(),
  pintvl: z.number().min(0).optional(),
});

export interface CommandSpec {
  cmd: CommandName;
  body: z.ZodType;
  /** How deep the path must reach. */
  needs: 'oid' | 'iid' | 'rid' | 'none';
  summary: string;
}

/** Body schema and target rules of each device command (`POST /devices/{id}/{command}`). */
export const COMMANDS: Record<string, CommandSpec> = {
  read: { cmd: 'read', body: z.object({ path }), needs: 'oid', summary: 'Read an object, instance or resource' },
  discover: { cmd: 'discover', body: z.object({ path }), needs: 'oid', summary: 'Discover the attributes of a target' },
  write: {
    cmd: 'write',
    body: z.object({ path, value: z.unknown() }).refine((b) => b.value !== undefined, {
      message: 'value is required',
      path: ['value'],
    }),
    needs: 'iid',
    summary: 'Write an instance or a resource',
  },
  'write-attrs': {
    cmd: 'writeAttrs',
    body: z.object({ path, attrs: attrsSchema }),
    needs: 'oid',
    summary: 'Write the notification attributes of a target (pmin, pmax, gt, lt, stp)',
  },
  execute: {
    cmd: 'execute',
    body: z.object({ path, args: z.array(z.unknown()).max(64).optional() }),
    needs: 'rid',
    summary: 'Execute a resource',
  },
  observe: {
    cmd: 'observe',
    body: z.object({ path, cancel: z.boolean().optional() }),
    needs: 'oid',
    summary: 'Observe a target (cancel: true stops it)',
  },
  ping: { cmd: 'ping', body: z.object({}).optional(), needs: 'none', summary: 'Ping the device' },
};

export const announceBody = z.object({ message: z.string().min(1) });
export const permitJoinBody = z.object({ seconds: z.number().int().min(0).max(MAX_PERMIT_SECONDS) });

// ---- answers ---------------------------------------------------------------------------------

export const errorAnswer = z.object({ error: z.string() });

export const healthAnswer = z.object({
  ok: z.boolean(),
  join: z.enum(['open', 'permit']),
  joinTimeLeft: z.number().int().min(0).nullable(),
  status: z.literal('degraded').optional(),
  problems: z.array(z.string()).optional(),
});

export const deviceRecord = z.strictObject({
  clientId: z.string(),
  joinTime: z.number().int(),
  lifetime: z.number().int(),
  ip: z.string(),
  mac: z.string(),
  version: z.string(),
  objList: z.record(z.string(), z.array(z.number())),
  status: z.enum(DEVICE_STATUSES),
  expiresAt: z.number().int(),
});

export const devicesQuery = z.strictObject({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .optional()
    .describe(`devices per page, 1-${MAX_PAGE} (default ${DEFAULT_PAGE})`),
  cursor: z
    .string()
    .min(1)
    .max(2048)
    .optional()
    .describe('where to go on: the cursor of the `Link: <...>; rel="next"` header of the page before'),
});

export const objectTree = z
  .record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown())))
  .describe('{oid: {iid: {rid: value}}}, keyed by numeric ids');

export const commandAnswer = z.object({
  status: z.number().int().describe("the device's own status: 205 content, 204 changed, 404, 405..."),
  data: z.unknown(),
});

export const timeoutAnswer = z.object({ status: z.literal(408), error: z.string() });
export const removedAnswer = z.object({ clientId: z.string(), removed: z.literal(true) });
export const okAnswer = z.object({ ok: z.literal(true) });
export const permitJoinAnswer = z.object({ joinTimeLeft: z.number().int().min(0) });
