import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createEmbeddedStoreClient, startMemoryStore, trimForEmbeddedStore, type Running } from '../../local/embedded-store';
import { createDocumentClient, createDynamoClient } from '../../shared/store/table/client';
import { ensureTable, EXPIRY_INDEX } from '../../shared/store/table/definition';
import type { DocumentClient } from '../../shared/store/table/document-client';

/**
 * The store's document client (shared/store/table/document-client.ts) on the client the local
 * stack makes for its embedded store (local/embedded-store.ts, createEmbeddedStoreClient): the SDK's cached middleware, the
 * trimmed stack, the fixed signature. What the store modules rely on must hold: plain objects
 * in and out, numbers back as numbers, undefined attributes dropped, pages and batches whole.
 */
let server: Running;
let client: DynamoDBClient;
let doc: DocumentClient;
const table = `doc_${process.pid}`;

beforeAll(async () => {
  server = await startMemoryStore();
  client = createEmbeddedStoreClient(server.url);
  doc = createDocumentClient(client);
  await ensureTable(client, table);
});
afterAll(async () => {
  client.destroy();
  await server.close();
});

const key = (id: string) => ({ pk: `doc#${id}`, sk: 'device' });

test('the embedded store client takes out every middleware it names, and the SDK still has each of them', () => {
  const fresh = createDynamoClient({ endpoint: 'http://127.0.0.1:1', region: 'local' });
  const before = fresh.middlewareStack.identify();
  const removed = trimForEmbeddedStore(fresh);
  expect(removed).toEqual([
    'getUserAgentMiddleware',
    'recursionDetectionMiddleware',
    'loggerMiddleware',
    'hostHeaderMiddleware',
    'contentLengthMiddleware',
  ]);
  const after = fresh.middlewareStack.identify();
  for (const name of removed) {
    expect(before.some((m) => m.startsWith(`${name} `))).toBe(true);
    expect(after.some((m) => m.startsWith(`${name} `))).toBe(false);
  }
  // What the store needs stays: serialising, retrying, signing (with the fixed signature), parsing.
  for (const name of ['serializerMiddleware', 'retryMiddleware', 'httpSigningMiddleware', 'deserializerMiddleware']) {
    expect(after.some((m) => m.startsWith(name))).toBe(true);
  }
  expect(fresh.config.cacheMiddleware).toBe(true);
  fresh.destroy();
});

test('a trimmed client still sends the Host, Content-Length and Authorization headers a store reads', async () => {
  const seen: { headers: IncomingHttpHeaders; body: string }[] = [];
  const recorder = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{"Item":{"n":{"N":"7"}}}');
    });
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  const { port } = recorder.address() as AddressInfo;
  const trimmed = createEmbeddedStoreClient(`http://127.0.0.1:${port}`);
  try {
    for (let i = 0; i < 2; i++) {
      const out = await createDocumentClient(trimmed).get({ TableName: 't', Key: key(`h${i}`) });
      expect(out.Item).toEqual({ n: 7 });
    }
  } finally {
    trimmed.destroy();
    recorder.close();
  }
  expect(seen).toHaveLength(2);
  for (const [i, { headers, body }] of seen.entries()) {
    expect(headers.host).toBe(`127.0.0.1:${port}`);
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(body));
    expect(headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=/);
    expect(headers['user-agent'] ?? '').not.toMatch(/aws-sdk/);
    // The cached middleware serialises each call's own input, not the first call's.
    expect(JSON.parse(body).Key).toEqual({ pk: { S: `doc#h${i}` }, sk: { S: 'device' } });
  }
});

test('plain objects in and out: numbers come back as numbers, undefined attributes are dropped', async () => {
  await doc.put({
    TableName: table,
    Item: {
      ...key('a'),
      lifetime: 86400,
      ratio: 0.25,
      big: 2 ** 60,
      gone: undefined,
      tree: { '3303': { '0': { '5700': 21.5 } } },
      tags: ['x', 1],
    },
  });
  const { Item } = await doc.get({ TableName: table, Key: key('a'), ConsistentRead: true });
  expect(Item).toEqual({
    ...key('a'),
    lifetime: 86400,
    ratio: 0.25,
    big: 2 ** 60,
    tree: { '3303': { '0': { '5700': 21.5 } } },
    tags: ['x', 1],
  });
  expect(Item).not.toHaveProperty('gone');

  const updated = await doc.update({
    TableName: table,
    Key: key('a'),
    UpdateExpression: 'SET #t.#o = :v, lifetime = :l',
    ConditionExpression: 'attribute_exists(pk) AND lifetime = :was',
    ExpressionAttributeNames: { '#t': 'tree', '#o': '3303' },
    ExpressionAttributeValues: { ':v': { '0': { '5700': 22 } }, ':l': 60, ':was': 86400 },
    ReturnValues: 'ALL_OLD',
  });
  expect(updated.Attributes).toMatchObject({ lifetime: 86400, tree: { '3303': { '0': { '5700': 21.5 } } } });
  await expect(
    doc.update({
      TableName: table,
      Key: key('a'),
      UpdateExpression: 'SET lifetime = :l',
      ConditionExpression: 'lifetime = :was',
      ExpressionAttributeValues: { ':l': 1, ':was': 86400 },
    }),
  ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });

  const deleted = await doc.delete({ TableName: table, Key: key('a'), ReturnValues: 'ALL_OLD' });
  expect(deleted.Attributes).toMatchObject({ lifetime: 60, tree: { '3303': { '0': { '5700': 22 } } } });
  expect((await doc.get({ TableName: table, Key: key('a'), ConsistentRead: true })).Item).toBeUndefined();
});

test('a query reads page after page from the key it left off at, and a batch read answers for every key', async () => {
  const ids = ['q1', 'q2', 'q3'];
  for (const [i, id] of ids.entries()) {
    await doc.put({ TableName: table, Item: { ...key(id), kind: 'q#0', dueAt: 100 + i, expiresAt: 100 + i } });
  }
  const seen: string[] = [];
  let start: Record<string, unknown> | undefined;
  let pages = 0;
  do {
    const page = await doc.query({
      TableName: table,
      IndexName: EXPIRY_INDEX,
      KeyConditionExpression: 'kind = :k',
      ExpressionAttributeValues: { ':k': 'q#0' },
      ExclusiveStartKey: start,
      Limit: 1,
    });
    seen.push(...(page.Items ?? []).map((item) => String(item.pk)));
    start = page.LastEvaluatedKey;
    pages++;
  } while (start);
  expect(seen).toEqual(ids.map((id) => `doc#${id}`));
  expect(pages).toBeGreaterThanOrEqual(3);

  const batch = await doc.batchGet({
    RequestItems: { [table]: { Keys: [...ids, 'none'].map(key), ProjectionExpression: 'pk, expiresAt', ConsistentRead: true } },
  });
  expect(new Map(batch.Responses?.[table]?.map((item) => [item.pk, item.expiresAt]))).toEqual(
    new Map(ids.map((id, i) => [`doc#${id}`, 100 + i])),
  );
  expect(batch.UnprocessedKeys?.[table]).toBeUndefined();
});
