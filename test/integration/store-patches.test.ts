import type { UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { DocumentClient } from '../../shared/store/table/document-client';
import { EXPIRY_INDEX } from '../../shared/store/table/definition';
import { startTestStore, type TestStore } from '../helpers/recorder';
import { freshTable } from '../contract/tables';

/**
 * The embedded store's patches (local/store-patches.cjs) change how much work dynalite does per
 * request, never what it answers: a parse kept from an earlier request must still see this
 * request's values and its errors, and a skipped index write must be one that changed nothing.
 */
let store: TestStore;
let doc: DocumentClient;
let table: string;
beforeAll(async () => {
  store = await startTestStore();
  const t = await freshTable(store);
  doc = t.doc;
  table = t.name;
});
afterAll(async () => store.close());

const key = (id: string) => ({ pk: `patch#${id}`, sk: 'device' });

async function put(id: string, extra: Record<string, unknown> = {}) {
  await doc.put({ TableName: table, Item: { ...key(id), value: 0, lifetime: 100, expiresAt: 1000, ...extra } });
}

/** The notify path's shape: a value set, a sum, a comparison and a path that must exist. */
const notifyLike = (id: string, value: unknown, liveSince: number): UpdateCommandInput => ({
  TableName: table,
  Key: key(id),
  UpdateExpression: 'SET #v = :v, #e = #l + :now',
  ConditionExpression: '#e >= :since AND attribute_exists(#v)',
  ExpressionAttributeNames: { '#v': 'value', '#e': 'expiresAt', '#l': 'lifetime' },
  ExpressionAttributeValues: { ':v': value, ':now': 500, ':since': liveSince },
});

const item = async (id: string) => (await doc.get({ TableName: table, Key: key(id) })).Item;

test('the same expression with other values stores each request its own values', async () => {
  const ids = Array.from({ length: 20 }, (_, i) => `values-${i}`);
  for (const id of ids) await put(id);
  await Promise.all(ids.map((id, i) => doc.update(notifyLike(id, i * 7, 0))));
  for (const [i, id] of ids.entries()) expect(await item(id)).toMatchObject({ value: i * 7, expiresAt: 600 });
});

test("a condition parsed for an earlier request is evaluated with this request's values", async () => {
  await put('condition');
  await doc.update(notifyLike('condition', 1, 0));
  // expiresAt is now 600: a request that needs 601 or more must fail with the same expression.
  await expect(doc.update(notifyLike('condition', 2, 601))).rejects.toMatchObject({
    name: 'ConditionalCheckFailedException',
  });
  expect((await item('condition'))?.value).toBe(1);
});

test('a value of another type is parsed afresh and refused as before', async () => {
  await put('types');
  await doc.update(notifyLike('types', 1, 0));
  const stringSum = notifyLike('types', 1, 0);
  stringSum.ExpressionAttributeValues = { ...stringSum.ExpressionAttributeValues, ':now': 'five hundred' };
  await expect(doc.update(stringSum)).rejects.toThrow(/Incorrect operand type/);
  expect((await item('types'))?.expiresAt).toBe(600);
});

test('an unused placeholder is refused every time, also once the expression is known', async () => {
  await put('unused');
  const extra = notifyLike('unused', 3, 0);
  extra.ExpressionAttributeValues = { ...extra.ExpressionAttributeValues, ':spare': 1 };
  for (let i = 0; i < 2; i++) {
    await doc.update(notifyLike('unused', 3, 0));
    await expect(doc.update(extra)).rejects.toThrow(/unused in expressions: keys: \{:spare\}/);
  }
});

test('a missing name or value is refused every time', async () => {
  await put('missing');
  const noValue = notifyLike('missing', 1, 0);
  delete noValue.ExpressionAttributeValues![':since'];
  for (let i = 0; i < 2; i++) {
    await expect(doc.update(noValue)).rejects.toThrow(/attribute value used in expression is not defined/);
  }
});

describe('index entries', () => {
  const byDue = async (kind: string) =>
    (
      await doc.query({
        TableName: table,
        IndexName: EXPIRY_INDEX,
        KeyConditionExpression: 'kind = :k',
        ExpressionAttributeValues: { ':k': kind },
      })
    ).Items ?? [];

  test('a write that changes nothing an index holds leaves the entry as it was; one that does moves or changes it', async () => {
    await put('indexed', { kind: 'patch-kind', dueAt: 10, status: 'online' });
    await doc.update(notifyLike('indexed', 42, 0));
    expect(await byDue('patch-kind')).toEqual([expect.objectContaining({ pk: 'patch#indexed', dueAt: 10, status: 'online' })]);

    // status is projected into the index: the entry follows it.
    await doc.update({
      TableName: table,
      Key: key('indexed'),
      UpdateExpression: 'SET #s = :s',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': 'sleep' },
    });
    expect(await byDue('patch-kind')).toEqual([expect.objectContaining({ dueAt: 10, status: 'sleep' })]);

    // dueAt is the index's sort key: the entry moves.
    await doc.update({
      TableName: table,
      Key: key('indexed'),
      UpdateExpression: 'SET dueAt = :d',
      ExpressionAttributeValues: { ':d': 20 },
    });
    expect(await byDue('patch-kind')).toEqual([expect.objectContaining({ dueAt: 20, status: 'sleep' })]);

    // Leaving the index (its key removed) removes the entry.
    await doc.update({ TableName: table, Key: key('indexed'), UpdateExpression: 'REMOVE kind' });
    expect(await byDue('patch-kind')).toEqual([]);
  });
});

test('a table deleted and made again holds none of the items kept from before', async () => {
  const { DeleteTableCommand } = await import('@aws-sdk/client-dynamodb');
  const { ensureTable } = await import('../../shared/store/table/definition');
  const other = await freshTable(store);
  await other.doc.put({ TableName: other.name, Item: { ...key('gone'), value: 1 } });
  expect((await other.doc.get({ TableName: other.name, Key: key('gone') })).Item).toMatchObject({ value: 1 });
  await store.client.send(new DeleteTableCommand({ TableName: other.name }));
  await ensureTable(store.client, other.name);
  expect((await other.doc.get({ TableName: other.name, Key: key('gone') })).Item).toBeUndefined();
});

test('many writes of one turn all land, each answered with its own outcome', async () => {
  await put('turn-ok');
  const writes = Array.from({ length: 30 }, (_, i) =>
    doc.update(notifyLike(i % 2 ? 'turn-ok' : 'turn-missing', i, 0)).then(
      () => 'ok',
      (err: Error) => err.name,
    ),
  );
  const outcomes = await Promise.all(writes);
  expect(outcomes.filter((o) => o === 'ok')).toHaveLength(15);
  expect(outcomes.filter((o) => o === 'ConditionalCheckFailedException')).toHaveLength(15);
  expect((await item('turn-ok'))?.value).toBe(29);
  expect(await item('turn-missing')).toBeUndefined();
});
