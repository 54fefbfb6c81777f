import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStoreThread, type Running } from '../../local/embedded-store';

/**
 * The embedded store of `npm start`, in a worker thread (local/store-thread.cjs). It keeps active
 * table descriptions in memory (local/store-patches.cjs): a table deleted, created again with
 * another key or given a new index must be seen as it is now. Closed, it lets its folder go.
 */
let dir: string;
let store: Running;
let client: DynamoDBClient;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lwmqn-store-thread-'));
  store = await startStoreThread(dir, 200);
  client = new DynamoDBClient({ endpoint: store.url, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
});
afterAll(async () => {
  client.destroy();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const wait = { client: undefined as unknown as DynamoDBClient, maxWaitTime: 30, minDelay: 1 };

test('the start-up warm-up (local/store-warmup.cjs) leaves nothing in the real store', async () => {
  expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
});

test('a table deleted and created again with another key is used with its new key', async () => {
  wait.client = client;
  await client.send(
    new CreateTableCommand({
      TableName: 'one_table',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }],
    }),
  );
  await waitUntilTableExists(wait, { TableName: 'one_table' });
  await client.send(new PutItemCommand({ TableName: 'one_table', Item: { a: { S: 'one' } } }));
  expect((await client.send(new GetItemCommand({ TableName: 'one_table', Key: { a: { S: 'one' } } }))).Item).toEqual({
    a: { S: 'one' },
  });

  await client.send(new DeleteTableCommand({ TableName: 'one_table' }));
  await waitUntilTableNotExists(wait, { TableName: 'one_table' });
  await expect(client.send(new GetItemCommand({ TableName: 'one_table', Key: { a: { S: 'one' } } }))).rejects.toThrow(/not found/);

  await client.send(
    new CreateTableCommand({
      TableName: 'one_table',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'b', AttributeType: 'N' }],
      KeySchema: [{ AttributeName: 'b', KeyType: 'HASH' }],
    }),
  );
  await waitUntilTableExists(wait, { TableName: 'one_table' });
  await expect(client.send(new PutItemCommand({ TableName: 'one_table', Item: { a: { S: 'old key' } } }))).rejects.toThrow(/key/i);
  await client.send(new PutItemCommand({ TableName: 'one_table', Item: { b: { N: '7' } } }));
  expect((await client.send(new GetItemCommand({ TableName: 'one_table', Key: { b: { N: '7' } } }))).Item).toEqual({
    b: { N: '7' },
  });
});

test('a table created again with an index can be queried on it', async () => {
  const plain = {
    TableName: 'two_table',
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' as const }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' as const }],
  };
  await client.send(new CreateTableCommand(plain));
  await waitUntilTableExists(wait, { TableName: 'two_table' });
  await client.send(new PutItemCommand({ TableName: 'two_table', Item: { pk: { S: 'x' }, g: { S: 'group' } } }));
  const byG = {
    TableName: 'two_table',
    IndexName: 'byG',
    KeyConditionExpression: 'g = :g',
    ExpressionAttributeValues: { ':g': { S: 'group' } },
  };
  await expect(client.send(new QueryCommand(byG))).rejects.toThrow(/index/);

  await client.send(new DeleteTableCommand({ TableName: 'two_table' }));
  await waitUntilTableNotExists(wait, { TableName: 'two_table' });
  await client.send(
    new CreateTableCommand({
      ...plain,
      AttributeDefinitions: [...plain.AttributeDefinitions, { AttributeName: 'g', AttributeType: 'S' }],
      GlobalSecondaryIndexes: [
        { IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } },
      ],
    }),
  );
  await waitUntilTableExists(wait, { TableName: 'two_table' });
  await client.send(new PutItemCommand({ TableName: 'two_table', Item: { pk: { S: 'y' }, g: { S: 'group' } } }));
  expect((await client.send(new QueryCommand(byG))).Items?.map((i) => i.pk.S)).toEqual(['y']);
});

test('closing it ends its thread and lets its folder go: a store started again on it at once serves what was written', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'lwmqn-store-reopened-'));
  const table = {
    TableName: 'kept',
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' as const }],
    KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' as const }],
  };
  const first = await startStoreThread(folder, 0);
  const before = new DynamoDBClient({
    endpoint: first.url,
    region: 'local',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  await before.send(new CreateTableCommand(table));
  await waitUntilTableExists({ ...wait, client: before }, { TableName: 'kept' });
  await before.send(new PutItemCommand({ TableName: 'kept', Item: { k: { S: 'written' }, v: { N: '1' } } }));
  before.destroy();
  await first.close();
  await expect(fetch(first.url)).rejects.toThrow();

  const again = await startStoreThread(folder, 0);
  const after = new DynamoDBClient({
    endpoint: again.url,
    region: 'local',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  try {
    expect((await after.send(new GetItemCommand({ TableName: 'kept', Key: { k: { S: 'written' } } }))).Item).toEqual({
      k: { S: 'written' },
      v: { N: '1' },
    });
  } finally {
    after.destroy();
    await again.close();
    rmSync(folder, { recursive: true, force: true });
  }
});

test('closing it twice returns at once the second time', async () => {
  const other = await startStoreThread(mkdtempSync(join(tmpdir(), 'lwmqn-store-closed-')), 0);
  await other.close();
  const result = await Promise.race([
    other.close().then(() => 'closed'),
    new Promise((ok) => setTimeout(() => ok('still waiting'), 5_000)),
  ]);
  expect(result).toBe('closed');
});
