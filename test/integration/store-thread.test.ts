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
import { DocumentClient } from '../../shared/store/table/document-client';
import { createEmbeddedStoreClient, startStoreThread } from '../../local/embedded-store';

/**
 * The embedded store thread of `npm start` (local/store-thread.cjs): the server's requests reach
 * it over a MessagePort (local/store-channel.ts), any other client over HTTP, and both see the
 * same store. It keeps active table descriptions in memory (local/store-patches.cjs): a table
 * deleted, created again with another key or given a new index must be seen as it is now.
 */
let dir: string;
let store: Awaited<ReturnType<typeof startStoreThread>>;
let client: DynamoDBClient;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lwmqn-store-process-'));
  store = await startStoreThread(dir, 2000);
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

test("the server's client, over the channel, works on the same store as HTTP clients, errors included", async () => {
  const server = createEmbeddedStoreClient(store.url, store.channel);
  const doc = new DocumentClient(server);
  await doc.put({ TableName: 'two_table', Item: { pk: 'over-channel', g: 'group', n: 2 ** 60 } });
  // Seen over HTTP as written over the channel.
  expect((await client.send(new GetItemCommand({ TableName: 'two_table', Key: { pk: { S: 'over-channel' } } }))).Item).toEqual({
    pk: { S: 'over-channel' },
    g: { S: 'group' },
    n: { N: String(2 ** 60) },
  });
  // And the other way.
  await client.send(new PutItemCommand({ TableName: 'two_table', Item: { pk: { S: 'over-http' }, g: { S: 'group' } } }));
  expect((await doc.get({ TableName: 'two_table', Key: { pk: 'over-http' } })).Item).toEqual({ pk: 'over-http', g: 'group' });
  const byG = await doc.query({
    TableName: 'two_table',
    IndexName: 'byG',
    KeyConditionExpression: 'g = :g',
    ExpressionAttributeValues: { ':g': 'group' },
  });
  expect(byG.Items?.map((i) => i.pk).sort()).toEqual(['over-channel', 'over-http', 'y']);
  // dynalite's errors arrive as the SDK's typed exceptions, as over HTTP.
  await expect(
    doc.put({ TableName: 'two_table', Item: { pk: 'over-http' }, ConditionExpression: 'attribute_not_exists(pk)' }),
  ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
  await expect(doc.get({ TableName: 'no_such_table', Key: { pk: 'x' } })).rejects.toMatchObject({
    name: 'ResourceNotFoundException',
  });
});

test('closing it ends the thread and closes its LevelDB: a new store on the same folder opens and has the data', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'lwmqn-store-reopen-'));
  const first = await startStoreThread(folder, 0);
  const firstClient = createEmbeddedStoreClient(first.url, first.channel);
  await firstClient.send(
    new CreateTableCommand({
      TableName: 'kept',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
    }),
  );
  // ACTIVE a timer's turn after CreateTable answers: over the channel the next call can come first.
  await waitUntilTableExists({ client: firstClient, maxWaitTime: 30, minDelay: 1 }, { TableName: 'kept' });
  await firstClient.send(new PutItemCommand({ TableName: 'kept', Item: { k: { S: 'written before close' } } }));
  await first.close();
  // Ended: a call over its channel fails (a refused connection to the SDK), it does not wait for an answer.
  await expect(firstClient.send(new ListTablesCommand({}))).rejects.toThrow(/the store thread has ended/);

  const second = await startStoreThread(folder, 0);
  const secondClient = createEmbeddedStoreClient(second.url, second.channel);
  expect(
    (await secondClient.send(new GetItemCommand({ TableName: 'kept', Key: { k: { S: 'written before close' } } }))).Item,
  ).toEqual({
    k: { S: 'written before close' },
  });
  await second.close();
  rmSync(folder, { recursive: true, force: true });
});

test('a store thread that fails says so on stderr once; the server stays up, its calls fail as refused connections', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'lwmqn-store-failed-'));
  const failing = await startStoreThread(folder, 0);
  const failingClient = createEmbeddedStoreClient(failing.url, failing.channel);
  const written: string[] = [];
  const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    written.push(String(chunk));
    return true;
  });
  try {
    // A request without headers: dynalite's handler throws in the thread, and nothing catches it there.
    failing.channel.postMessage({ id: 0, method: 'POST', path: '/', body: '{}' });
    await expect(failingClient.send(new ListTablesCommand({}))).rejects.toThrow(/the store thread has ended/);
    expect(written.filter((line) => line.startsWith('lwmqn store: the store thread failed: TypeError'))).toHaveLength(1);
  } finally {
    write.mockRestore();
    await failing.close();
    rmSync(folder, { recursive: true, force: true });
  }
});
