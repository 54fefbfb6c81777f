import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

/**
 * The table layout the registry store relies on. `byExpiry` finds expired devices and stalled
 * discoveries without a scan; `bySleep` finds sleeping devices past their wake deadline. Both
 * are sparse and sharded by clientId so no index partition turns hot at fleet scale.
 *
 * `byExpiry` is sorted on `dueAt`, not on `expiresAt`: every notify renews `expiresAt`, and an
 * index keyed on it would turn each notify into three write units (the base item plus the index
 * entry deleted and written again). `dueAt` is when the reaper should look next: the expiry a
 * registration or a new lifetime gives, plus the device's spread (shared/store/due.ts), or the
 * renewed expiry the reaper found. It moves only then, so a notify stays one write.
 */
export const EXPIRY_INDEX = 'byExpiry';
export const SLEEP_INDEX = 'bySleep';
export const RECORD_ATTRIBUTES = ['clientId', 'joinTime', 'lifetime', 'ip', 'mac', 'version', 'objList', 'status'];

export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'kind', AttributeType: 'S' },
      { AttributeName: 'dueAt', AttributeType: 'N' },
      { AttributeName: 'sleepKind', AttributeType: 'S' },
      { AttributeName: 'wakeBy', AttributeType: 'N' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: EXPIRY_INDEX,
        KeySchema: [
          { AttributeName: 'kind', KeyType: 'HASH' },
          { AttributeName: 'dueAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...RECORD_ATTRIBUTES, 'regId'] },
      },
      {
        IndexName: SLEEP_INDEX,
        KeySchema: [
          { AttributeName: 'sleepKind', KeyType: 'HASH' },
          { AttributeName: 'wakeBy', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}

/** Creates the table when it is missing; TTL is switched on where the store supports it. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<'created' | 'exists'> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return 'exists';
  } catch (err) {
    if ((err as Error).name !== 'ResourceNotFoundException') throw err;
  }
  try {
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  } catch (err) {
    // Two processes starting at once: the other one created it.
    if ((err as Error).name !== 'ResourceInUseException') throw err;
  }
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: tableName });
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
  } catch (err) {
    // dynalite has no TTL API; the reaper and the readers' expiry checks do not depend on it.
    if ((err as Error).name !== 'UnknownOperationException') throw err;
  }
  return 'created';
}
