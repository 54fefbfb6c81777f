import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { isDeepStrictEqual } from 'node:util';
import type { DeviceCache } from './device-cache';
import { EXPIRY_INDEX, RECORD_ATTRIBUTES, SLEEP_INDEX } from './table';
import {
  toSeconds,
  type DeviceItem,
  type DeviceRecord,
  type DeviceStatus,
  type Discovery,
  type PendingRequest,
} from './model';

/**
 * The registry over one DynamoDB table. Every write that can race another handler is a
 * conditional, partial UpdateItem on the attributes it owns; nothing here reads an item to
 * write it back. Expired items are treated as gone whether or not TTL has collected them.
 */

/** The store refused a value the device sent (too large, a number DynamoDB cannot hold...). */
export class RejectedValueError extends Error {
  override name = 'RejectedValueError';
}

const DEVICE_SK = 'device';
const DISCOVERY_SK = 'discovery';
const deviceKey = (clientId: string) => ({ pk: `d#${clientId}`, sk: DEVICE_SK });
const discoveryKey = (clientId: string) => ({ pk: `d#${clientId}`, sk: DISCOVERY_SK });
const requestKey = (clientId: string, cmdId: number, transId: number) => ({
  pk: `d#${clientId}`,
  sk: `req#${cmdId}#${transId}`,
});
const JOIN_KEY = { pk: 'settings', sk: 'join' };

const isConditionFailure = (err: unknown) => (err as Error)?.name === 'ConditionalCheckFailedException';

export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, allowImpreciseNumbers: true },
    // Devices send any JSON number; read them back as plain numbers instead of throwing.
    unmarshallOptions: { wrapNumbers: (n: string) => Number(n) },
  });
}

/** FNV-1a: a stable, cheap spread of clientIds over the index shards. */
export function shardOf(clientId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < clientId.length; i++) {
    h ^= clientId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

class Names {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;
  name(attr: string): string {
    const key = `#n${this.n++}`;
    this.names[key] = attr;
    return key;
  }
  value(v: unknown): string {
    const key = `:v${this.n++}`;
    this.values[key] = v;
    return key;
  }
}

export interface DeviceChanges {
  lifetime?: number;
  ip?: string;
  version?: string;
  objList?: DeviceItem['objList'];
  objects?: DeviceItem['objects'];
  status?: DeviceStatus;
}

export class RegistryStore {
  readonly doc: DynamoDBDocumentClient;

  /**
   * `cache` only where this process is the table's one writer (the local stack over its own
   * embedded store): then a read of a known device and a write that changes nothing never
   * reach the store. Lambda and any shared table run without it.
   */
  constructor(
    doc: DynamoDBDocumentClient,
    readonly tableName: string,
    readonly shards = 8,
    private readonly cache?: DeviceCache,
  ) {
    this.doc = doc;
  }

  /** A store call on the device item: with the cache, it learns what the item is afterwards. */
  private onDevice<T>(clientId: string, call: () => Promise<T>, after: (result: T) => DeviceItem | null | undefined): Promise<T> {
    return this.cache ? this.cache.track(clientId, call, after) : call();
  }

  private kind(prefix: 'd' | 'r' | 's', clientId: string): string {
    return `${prefix}#${shardOf(clientId, this.shards)}`;
  }

  private async send<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if ((err as Error)?.name === 'ValidationException' && /size|number|numeric|magnitude|precision|empty/i.test((err as Error).message)) {
        throw new RejectedValueError((err as Error).message);
      }
      throw err;
    }
  }

  // ---- devices -------------------------------------------------------------------------

  async getDevice(clientId: string, nowMs: number): Promise<DeviceItem | null> {
    const cached = this.cache?.get(clientId);
    if (cached) return cached.expiresAt >= toSeconds(nowMs) ? { ...cached } : null;
    if (this.cache?.knownAbsent(clientId)) return null;
    const out = await this.onDevice(
      clientId,
      () => this.doc.send(new GetCommand({ TableName: this.tableName, Key: deviceKey(clientId), ConsistentRead: true })),
      (o) => (o.Item ? stripKeys(o.Item as DeviceItem) : null),
    );
    const item = out.Item as DeviceItem | undefined;
    return item && item.expiresAt >= toSeconds(nowMs) ? stripKeys(item) : null;
  }

  /**
   * With the cache: learns which devices have an item, so that a device the table has never
   * seen (a first registration) is answered without a store read. Call before any traffic.
   */
  async loadDeviceDirectory(): Promise<number> {
    if (!this.cache) return 0;
    const indexed = await this.queryShards('d', EXPIRY_INDEX, 'kind', 'dueAt', 'any', 0);
    const ids = indexed.map((i) => String(i.pk).slice(2));
    this.cache.loadDirectory(ids);
    return ids.length;
  }

  /** Whether a live record exists; reads only its expiry (or, with the cache, the whole item once). */
  async isRegistered(clientId: string, nowMs: number): Promise<boolean> {
    if (this.cache) {
      const known = this.cache.peek(clientId);
      if (known) return known.expiresAt >= toSeconds(nowMs);
      return (await this.getDevice(clientId, nowMs)) !== null;
    }
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: deviceKey(clientId),
        ConsistentRead: true,
        ProjectionExpression: 'expiresAt',
      }),
    );
    return typeof out.Item?.expiresAt === 'number' && out.Item.expiresAt >= toSeconds(nowMs);
  }

  /**
   * Writes a newly discovered device. Succeeds over nothing, over an expired record, or over
   * the same device (same mac); returns whether it existed, or 'conflict' for another mac.
   */
  async createDevice(item: DeviceItem, nowMs: number): Promise<{ existed: boolean } | 'conflict'> {
    try {
      const out = await this.onDevice(
        item.clientId,
        () =>
          this.send(() =>
            this.doc.send(
              new PutCommand({
                TableName: this.tableName,
                Item: { ...deviceKey(item.clientId), ...item, kind: this.kind('d', item.clientId), dueAt: item.expiresAt },
                ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR mac = :mac',
                ExpressionAttributeValues: { ':now': toSeconds(nowMs), ':mac': item.mac },
                ReturnValues: 'ALL_OLD',
              }),
            ),
          ),
        () => ({ ...item }),
      );
      const old = out.Attributes as DeviceItem | undefined;
      return { existed: !!old && old.expiresAt >= toSeconds(nowMs) };
    } catch (err) {
      if (isConditionFailure(err)) return 'conflict';
      throw err;
    }
  }

  /**
   * Partial update of a live device that also counts as activity (renews `expiresAt`).
   * Returns the item as it was before, or null when the device is not registered.
   */
  async updateDevice(
    clientId: string,
    changes: DeviceChanges,
    nowMs: number,
    opts: { wakeBy?: number | null } = {},
  ): Promise<DeviceItem | null> {
    const x = new Names();
    const now = x.value(toSeconds(nowMs));
    const sets: string[] = [];
    const removes: string[] = [];
    for (const [attr, value] of Object.entries(changes)) {
      if (value !== undefined) sets.push(`${x.name(attr)} = ${x.value(value)}`);
    }
    const lifetime = changes.lifetime !== undefined ? x.value(changes.lifetime) : x.name('lifetime');
    sets.push(`${x.name('expiresAt')} = ${lifetime} + ${now}`);
    // A shorter lifetime may bring the expiry before the reaper's next look.
    if (changes.lifetime !== undefined) sets.push(`${x.name('dueAt')} = ${lifetime} + ${now}`);
    if (opts.wakeBy === null) removes.push(x.name('wakeBy'), x.name('sleepKind'));
    else if (opts.wakeBy !== undefined) {
      sets.push(`${x.name('wakeBy')} = ${x.value(opts.wakeBy)}`);
      sets.push(`${x.name('sleepKind')} = ${x.value(this.kind('s', clientId))}`);
    }
    // A comparison with a missing attribute is false: `expiresAt >= now` also says the item exists.
    const condition = `${x.name('expiresAt')} >= ${now}`;
    const set = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    const unchanged = (c: DeviceItem) =>
      opts.wakeBy === undefined &&
      renewsNothing(c, nowMs) &&
      Object.entries(set).every(([attr, value]) => isDeepStrictEqual(c[attr as keyof DeviceItem], value));
    const applied =
      opts.wakeBy === undefined
        ? (c: DeviceItem): DeviceItem => ({ ...c, ...set, expiresAt: (changes.lifetime ?? c.lifetime) + toSeconds(nowMs) })
        : undefined;
    return this.conditionalUpdate(clientId, sets, removes, condition, x, { unchanged, applied });
  }

  /**
   * The notify write: sets resources of one instance and renews the lifetime in one request,
   * only if the instance (and, unless `allowNew`, each resource) is in the stored tree.
   */
  async setResources(
    clientId: string,
    oid: string,
    iid: string,
    values: Record<string, unknown>,
    nowMs: number,
    allowNew = false,
  ): Promise<DeviceItem | null> {
    const x = new Names();
    const now = x.value(toSeconds(nowMs));
    const instancePath = `${x.name('objects')}.${x.name(oid)}.${x.name(iid)}`;
    const sets = [`${x.name('expiresAt')} = ${x.name('lifetime')} + ${now}`];
    // Short conditions on purpose: the embedded store parses every expression on every call.
    // `expiresAt >= now` also says the item exists, a resource's path that its instance does.
    const conditions = [`${x.name('expiresAt')} >= ${now}`];
    const resources = Object.entries(values);
    if (allowNew || resources.length === 0) conditions.push(`attribute_exists(${instancePath})`);
    for (const [rid, value] of resources) {
      const path = `${instancePath}.${x.name(rid)}`;
      sets.push(`${path} = ${x.value(value)}`);
      if (!allowNew) conditions.push(`attribute_exists(${path})`);
    }
    const unchanged = (c: DeviceItem) => {
      const instance = c.objects?.[oid]?.[iid];
      return (
        instance !== undefined &&
        renewsNothing(c, nowMs) &&
        Object.entries(values).every(([rid, value]) => rid in instance && isDeepStrictEqual(instance[rid], value))
      );
    };
    const applied = (c: DeviceItem): DeviceItem => ({
      ...c,
      expiresAt: c.lifetime + toSeconds(nowMs),
      objects: { ...c.objects, [oid]: { ...c.objects[oid], [iid]: { ...c.objects[oid][iid], ...values } } },
    });
    return this.conditionalUpdate(clientId, sets, [], conditions.join(' AND '), x, { unchanged, applied });
  }

  /** Replaces one object's instances (a whole-object read result) if the object is registered. */
  async setObject(
    clientId: string,
    oid: string,
    instances: Record<string, Record<string, unknown>>,
    nowMs: number,
  ): Promise<DeviceItem | null> {
    const x = new Names();
    const now = x.value(toSeconds(nowMs));
    const path = `${x.name('objects')}.${x.name(oid)}`;
    return this.conditionalUpdate(
      clientId,
      [`${path} = ${x.value(instances)}`, `${x.name('expiresAt')} = ${x.name('lifetime')} + ${now}`],
      [],
      `${x.name('expiresAt')} >= ${now} AND attribute_exists(${path})`,
      x,
      {
        unchanged: (c) => c.objects?.[oid] !== undefined && renewsNothing(c, nowMs) && isDeepStrictEqual(c.objects[oid], instances),
        applied: (c) => ({ ...c, expiresAt: c.lifetime + toSeconds(nowMs), objects: { ...c.objects, [oid]: instances } }),
      },
    );
  }

  private async conditionalUpdate(
    clientId: string,
    sets: string[],
    removes: string[],
    condition: string,
    x: Names,
    cachedAs: CachedUpdate = {},
  ): Promise<DeviceItem | null> {
    // The cached item is what the store holds (no other call on this device is under way): it
    // is the item before this write, and a write that would change nothing is not sent. When
    // the item after the write follows from it, the store is not asked to send it back.
    const cached = this.cache?.get(clientId);
    if (cached && cachedAs.unchanged?.(cached)) return { ...cached };
    const applied = cached && cachedAs.applied;
    const expression = `SET ${sets.join(', ')}` + (removes.length ? ` REMOVE ${removes.join(', ')}` : '');
    try {
      const out = await this.onDevice(
        clientId,
        () =>
          this.send(() =>
            this.doc.send(
              new UpdateCommand({
                TableName: this.tableName,
                Key: deviceKey(clientId),
                UpdateExpression: expression,
                ConditionExpression: condition,
                ExpressionAttributeNames: x.names,
                ExpressionAttributeValues: x.values,
                ReturnValues: applied ? 'NONE' : cached ? 'ALL_NEW' : 'ALL_OLD',
              }),
            ),
          ),
        (o) => (cached ? (applied ? applied(cached) : stripKeys(o.Attributes as DeviceItem)) : undefined),
      );
      return cached ? { ...cached } : stripKeys(out.Attributes as DeviceItem);
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  /** Status changes that are not activity (lwt, a sleep deadline passing). */
  async setStatusIf(clientId: string, status: DeviceStatus, expect: DeviceStatus[], nowMs: number): Promise<DeviceItem | null> {
    const x = new Names();
    const st = x.name('status');
    const condition =
      `${x.name('expiresAt')} >= ${x.value(toSeconds(nowMs))}` +
      ` AND (${expect.map((s) => `${st} = ${x.value(s)}`).join(' OR ')})`;
    return this.conditionalUpdate(
      clientId,
      [`${st} = ${x.value(status)}`],
      [x.name('wakeBy'), x.name('sleepKind')],
      condition,
      x,
    );
  }

  /** Removes a live device; returns what it was, or null when it was not registered. */
  async deleteDevice(clientId: string, nowMs: number): Promise<DeviceItem | null> {
    const out = await this.onDevice(
      clientId,
      () => this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: deviceKey(clientId), ReturnValues: 'ALL_OLD' })),
      () => null,
    );
    const old = out.Attributes as DeviceItem | undefined;
    return old && old.expiresAt >= toSeconds(nowMs) ? stripKeys(old) : null;
  }

  /** Removes a device only if its lifetime really ran out, so a racing renewal wins. */
  async reapDevice(clientId: string, nowMs: number): Promise<DeviceItem | null> {
    try {
      const out = await this.onDevice(
        clientId,
        () =>
          this.doc.send(
            new DeleteCommand({
              TableName: this.tableName,
              Key: deviceKey(clientId),
              ConditionExpression: 'expiresAt < :now',
              ExpressionAttributeValues: { ':now': toSeconds(nowMs) },
              ReturnValues: 'ALL_OLD',
            }),
          ),
        () => null,
      );
      return out.Attributes ? stripKeys(out.Attributes as DeviceItem) : null;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    // Renewed since: the reaper looks again when the renewed lifetime runs out.
    try {
      await this.onDevice(
        clientId,
        () =>
          this.doc.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: deviceKey(clientId),
              UpdateExpression: 'SET dueAt = expiresAt',
              ConditionExpression: 'attribute_exists(pk)',
            }),
          ),
        () => undefined,
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    return null;
  }

  /**
   * Live devices, through the expiry index (no scan). The index leaves `expiresAt` out so that
   * notifies do not rewrite it; the current value comes from the items themselves.
   */
  async listDevices(nowMs: number): Promise<DeviceRecord[]> {
    const now = toSeconds(nowMs);
    const indexed = await this.queryShards('d', EXPIRY_INDEX, 'kind', 'dueAt', 'any', 0);
    const expiry = new Map<string, number>();
    for (let i = 0; i < indexed.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = indexed.slice(i, i + 100).map((d) => ({ pk: d.pk, sk: DEVICE_SK }));
      while (keys && keys.length > 0) {
        const out = await this.doc.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: keys, ProjectionExpression: 'pk, expiresAt', ConsistentRead: true } },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) expiry.set(String(item.pk), Number(item.expiresAt));
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return indexed
      .filter((i) => (expiry.get(String(i.pk)) ?? -1) >= now)
      .map((i) => ({ ...pick(i, RECORD_ATTRIBUTES), expiresAt: expiry.get(String(i.pk)) }) as unknown as DeviceRecord)
      .sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  }

  /** Devices the reaper should look at: their `dueAt` passed (they may have renewed since). */
  async expiredDeviceIds(nowMs: number): Promise<string[]> {
    const items = await this.queryShards('d', EXPIRY_INDEX, 'kind', 'dueAt', '<', toSeconds(nowMs), true);
    return items.map((i) => String(i.pk).slice(2));
  }

  async overdueSleeperIds(nowMs: number): Promise<string[]> {
    const items = await this.queryShards('s', SLEEP_INDEX, 'sleepKind', 'wakeBy', '<', toSeconds(nowMs), true);
    return items.map((i) => String(i.pk).slice(2));
  }

  private async queryShards(
    prefix: 'd' | 'r' | 's',
    index: string,
    hashAttr: string,
    rangeAttr: string,
    op: '<' | 'any',
    bound: number,
    oneAtATime = false,
  ): Promise<Record<string, unknown>[]> {
    const queryShard = async (shard: number) => {
      const found: Record<string, unknown>[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const out = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: index,
            KeyConditionExpression: op === 'any' ? '#h = :h' : `#h = :h AND #r < :b`,
            ExpressionAttributeNames: op === 'any' ? { '#h': hashAttr } : { '#h': hashAttr, '#r': rangeAttr },
            ExpressionAttributeValues: op === 'any' ? { ':h': `${prefix}#${shard}` } : { ':h': `${prefix}#${shard}`, ':b': bound },
            ExclusiveStartKey: start,
          }),
        );
        found.push(...((out.Items ?? []) as Record<string, unknown>[]));
        start = out.LastEvaluatedKey;
      } while (start);
      return found;
  };
    const shards = Array.from({ length: this.shards }, (_, shard) => shard);
    if (!oneAtATime) return (await Promise.all(shards.map(queryShard))).flat();
    // The reaper's background look-ups, one after another: a burst of them at once would stall
    // the devices' own store calls behind it (and show in their worst latencies).
    const found: Record<string, unknown>[] = [];
    for (const shard of shards) found.push(...(await queryShard(shard)));
    return found;
  }

  // ---- discoveries (registration reads in progress) ----------------------------------

  /**
   * Writes a discovery, replacing any earlier one of the same client (late answers to that one
   * are then dropped), unless one for this very message (same client transId and purpose) is
   * still running: 'running' tells the caller it is a redelivery.
   */
  async putDiscovery(d: Discovery, nowMs: number): Promise<{ replaced?: Discovery } | 'running'> {
    try {
      const out = await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...discoveryKey(d.clientId), ...d, kind: this.kind('r', d.clientId), dueAt: d.expiresAt },
          ConditionExpression:
            'attribute_not_exists(pk) OR #expiresAt < :now OR #clientTransId <> :t OR #purpose <> :p',
          ExpressionAttributeNames: { '#purpose': 'purpose', '#expiresAt': 'expiresAt', '#clientTransId': 'clientTransId' },
          ExpressionAttributeValues: { ':now': toSeconds(nowMs), ':t': d.clientTransId, ':p': d.purpose },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return { replaced: out.Attributes ? stripKeys(out.Attributes as Discovery) : undefined };
    } catch (err) {
      if (isConditionFailure(err)) return 'running';
      throw err;
    }
  }

  async getDiscovery(clientId: string, nowMs: number): Promise<Discovery | null> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: discoveryKey(clientId), ConsistentRead: true }),
    );
    const d = out.Item as Discovery | undefined;
    return d && d.expiresAt >= toSeconds(nowMs) ? stripKeys(d) : null;
  }

  /**
   * Records the answer to one read of the running discovery, once; returns the discovery as it
   * is now, or null when no running discovery waits for that transId.
   */
  async recordDiscoveryAnswer(
    clientId: string,
    transId: number,
    answer: { status: number; data?: unknown },
    nowMs: number,
  ): Promise<Discovery | null> {
    try {
      const out = await this.send(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: discoveryKey(clientId),
            UpdateExpression: 'SET #answers.#t = :a, #remaining = #remaining - :one',
            ConditionExpression: 'attribute_exists(#reads.#t) AND attribute_not_exists(#answers.#t) AND #expiresAt >= :now',
            ExpressionAttributeNames: {
              '#t': String(transId),
              '#answers': 'answers',
              '#reads': 'reads',
              '#remaining': 'remaining',
              '#expiresAt': 'expiresAt',
            },
            ExpressionAttributeValues: { ':a': answer, ':one': 1, ':now': toSeconds(nowMs) },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return stripKeys(out.Attributes as Discovery);
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  /** Takes a discovery out of the table; only the caller that gets it back may finish or fail it. */
  async claimDiscovery(clientId: string, regId: string): Promise<Discovery | null> {
    try {
      const out = await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: discoveryKey(clientId),
          ConditionExpression: 'regId = :regId',
          ExpressionAttributeValues: { ':regId': regId },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return out.Attributes ? stripKeys(out.Attributes as Discovery) : null;
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  async overdueDiscoveries(nowMs: number): Promise<Array<{ clientId: string; regId: string }>> {
    const items = await this.queryShards('r', EXPIRY_INDEX, 'kind', 'dueAt', '<', toSeconds(nowMs), true);
    return items.map((i) => ({ clientId: String(i.pk).slice(2), regId: String(i.regId) }));
  }

  // ---- pending server requests --------------------------------------------------------

  /** False when the (clientId, cmdId, transId) slot is taken by a request still pending. */
  async putRequest(req: PendingRequest, nowMs: number): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...requestKey(req.clientId, req.cmdId, req.transId), ...req },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': toSeconds(nowMs) },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Records the device's answer on its pending request, once: a duplicate or a request nobody
   * waits for any more yields null.
   */
  async answerRequest(
    clientId: string,
    cmdId: number,
    transId: number,
    answer: { status: number; data?: unknown },
    nowMs: number,
  ): Promise<PendingRequest | null> {
    try {
      const out = await this.send(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: requestKey(clientId, cmdId, transId),
            UpdateExpression: 'SET answer = :a',
            ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(answer) AND expiresAt >= :now',
            ExpressionAttributeValues: { ':a': answer, ':now': toSeconds(nowMs) },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return stripKeys(out.Attributes as PendingRequest);
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  async getRequest(clientId: string, cmdId: number, transId: number): Promise<PendingRequest | null> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: requestKey(clientId, cmdId, transId), ConsistentRead: true }),
    );
    return out.Item ? stripKeys(out.Item as PendingRequest) : null;
  }

  async deleteRequest(clientId: string, cmdId: number, transId: number): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: requestKey(clientId, cmdId, transId) }));
  }

  // ---- settings ------------------------------------------------------------------------

  async getJoinUntilMs(): Promise<number> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: JOIN_KEY, ConsistentRead: true }));
    return typeof out.Item?.untilMs === 'number' ? out.Item.untilMs : 0;
  }

  async setJoinUntilMs(untilMs: number): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...JOIN_KEY, untilMs } }));
  }
}

/** What a device write does to the cached item, when there is one (see `conditionalUpdate`). */
interface CachedUpdate {
  /** The write would change nothing: it is not sent. */
  unchanged?: (cached: DeviceItem) => boolean;
  /** The item after the write: the store need not send it back. */
  applied?: (cached: DeviceItem) => DeviceItem;
}

/** The renewal `expiresAt = lifetime + now` would write the value the item already has. */
function renewsNothing(item: DeviceItem, nowMs: number): boolean {
  return item.expiresAt === item.lifetime + toSeconds(nowMs);
}

function stripKeys<T>(item: T): T {
  if (!item) return item;
  const { pk: _pk, sk: _sk, kind: _kind, sleepKind: _sleepKind, dueAt: _dueAt, ...rest } = item as Record<string, unknown>;
  return rest as T;
}

function pick(item: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in item) out[k] = item[k];
  return out;
}
