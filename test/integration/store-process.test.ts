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
import { startStoreProcess, type Running } from '../../local/embedded-store';

/**
 * The embedded store process keeps active table descriptions in memory (local/store-patches.cjs):
 * a table deleted, created again with another key or given a new index must be seen as it is now.
 */
let dir: string;
let store: Running & { pid: number };
let client: DynamoDBClient;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lwmqn-store-process-'));
  store = await startStoreProcess(dir, 2000);
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

/** `one_table`, keyed on `key` of type `type`, once it exists. */
async function createOneTable(key: string, type: 'S' | 'N'): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: 'one_table',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: key, AttributeType: type }],
      KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
    }),
  );
  await waitUntilTableExists(wait, { TableName: 'one_table' });
}

test('a table deleted and created again with another key is used with its new key', async () => {
  wait.client = client;
  await createOneTable('a', 'S');
  await client.send(new PutItemCommand({ TableName: 'one_table', Item: { a: { S: 'one' } } }));
  expect((await client.send(new GetItemCommand({ TableName: 'one_table', Key: { a: { S: 'one' } } }))).Item).toEqual({
    a: { S: 'one' },
  });

  await client.send(new DeleteTableCommand({ TableName: 'one_table' }));
  await waitUntilTableNotExists(wait, { TableName: 'one_table' });
  await expect(client.send(new GetItemCommand({ TableName: 'one_table', Key: { a: { S: 'one' } } }))).rejects.toThrow(/not found/);

  await createOneTable('b', 'N');
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

test.each(['SIGINT', 'SIGTERM'] as const)(
  'a %s to the whole group (Ctrl-C, a supervisor) leaves the store serving: the server ends it once its in-flight writes are done',
  async (signal) => {
    process.kill(store.pid, signal);
    await new Promise((wait) => setTimeout(wait, 300));
    expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual(['one_table', 'two_table']);
  },
);

test('closing it (the end of its IPC channel) ends the process', async () => {
  const other = await startStoreProcess(mkdtempSync(join(tmpdir(), 'lwmqn-store-closed-')), 2000);
  await other.close();
  expect(() => process.kill(other.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
});

test('closing a store process that a signal already ended returns at once (the shutdown does not wait for an exit that came)', async () => {
  const other = await startStoreProcess(mkdtempSync(join(tmpdir(), 'lwmqn-store-killed-')), 2000);
  const gone = new Promise<void>((ok) => {
    const probe = setInterval(() => {
      try {
        process.kill(other.pid, 0);
      } catch {
        clearInterval(probe);
        ok();
      }
    }, 20);
  });
  process.kill(other.pid, 'SIGKILL');
  await gone;
  await new Promise((wait) => setTimeout(wait, 100)); // the 'exit' event reaches the parent
  const result = await Promise.race([
    other.close().then(() => 'closed'),
    new Promise((ok) => setTimeout(() => ok('still waiting'), 5_000)),
  ]);
  expect(result).toBe('closed');
});
