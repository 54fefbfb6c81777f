import {
  BatchGetItemCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type KeysAndAttributes,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type {
  BatchGetCommandInput,
  BatchGetCommandOutput,
  DeleteCommandInput,
  DeleteCommandOutput,
  GetCommandInput,
  GetCommandOutput,
  PutCommandInput,
  PutCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  UpdateCommandInput,
  UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall, type NativeAttributeValue } from '@aws-sdk/util-dynamodb';

type NativeItem = Record<string, NativeAttributeValue>;
type Marshalled = Record<string, AttributeValue>;
/**
 * DynamoDB's legacy parameters (Expected, AttributeUpdates, KeyConditions, QueryFilter) are not
 * taken: the store writes expressions only, and a parameter this client does not convert must
 * not compile rather than be sent unconverted.
 */
type GetInput = GetCommandInput;
type PutInput = Omit<PutCommandInput, 'Expected'>;
type UpdateInput = Omit<UpdateCommandInput, 'Expected' | 'AttributeUpdates'>;
type DeleteInput = Omit<DeleteCommandInput, 'Expected'>;
type QueryInput = Omit<QueryCommandInput, 'KeyConditions' | 'QueryFilter'>;

const MARSHALL = { removeUndefinedValues: true, allowImpreciseNumbers: true } as const;
// Devices send any JSON number; read them back as plain numbers instead of throwing.
const UNMARSHALL = { wrapNumbers: (n: string) => Number(n) };

const toAttributes = (item: NativeItem): Marshalled => marshall(item, MARSHALL);
const toAttributesIfAny = (item: NativeItem | undefined): Marshalled | undefined =>
  item === undefined ? undefined : toAttributes(item);
const fromAttributes = (item: Marshalled): NativeItem => unmarshall(item, UNMARSHALL) as NativeItem;
const fromAttributesIfAny = (item: Marshalled | undefined): NativeItem | undefined =>
  item === undefined ? undefined : fromAttributes(item);

/**
 * The table's items as plain objects: lib-dynamodb's inputs and outputs, on the SDK's own
 * DynamoDBClient and its commands. Not lib-dynamodb's DynamoDBDocumentClient, because that
 * refuses the client's `cacheMiddleware` (shared/store/table/client.ts), and without it every
 * call builds and sorts its middleware stack again: measured in docs/PERFORMANCE.md, "The
 * SDK's own work per call". The attributes are converted by the SDK's util-dynamodb, the
 * library lib-dynamodb converts them with, with the options the store always had.
 */
export class DocumentClient {
  constructor(readonly client: DynamoDBClient) {}

  async get(input: GetInput): Promise<Pick<GetCommandOutput, 'Item'>> {
    const out = await this.client.send(new GetItemCommand({ ...input, Key: toAttributesIfAny(input.Key) }));
    return { Item: fromAttributesIfAny(out.Item) };
  }

  async put(input: PutInput): Promise<Pick<PutCommandOutput, 'Attributes'>> {
    const out = await this.client.send(
      new PutItemCommand({
        ...input,
        Item: toAttributesIfAny(input.Item),
        ExpressionAttributeValues: toAttributesIfAny(input.ExpressionAttributeValues),
      }),
    );
    return { Attributes: fromAttributesIfAny(out.Attributes) };
  }

  async update(input: UpdateInput): Promise<Pick<UpdateCommandOutput, 'Attributes'>> {
    const out = await this.client.send(
      new UpdateItemCommand({
        ...input,
        Key: toAttributesIfAny(input.Key),
        ExpressionAttributeValues: toAttributesIfAny(input.ExpressionAttributeValues),
      }),
    );
    return { Attributes: fromAttributesIfAny(out.Attributes) };
  }

  async delete(input: DeleteInput): Promise<Pick<DeleteCommandOutput, 'Attributes'>> {
    const out = await this.client.send(
      new DeleteItemCommand({
        ...input,
        Key: toAttributesIfAny(input.Key),
        ExpressionAttributeValues: toAttributesIfAny(input.ExpressionAttributeValues),
      }),
    );
    return { Attributes: fromAttributesIfAny(out.Attributes) };
  }

  async query(input: QueryInput): Promise<Pick<QueryCommandOutput, 'Items' | 'LastEvaluatedKey'>> {
    const out = await this.client.send(
      new QueryCommand({
        ...input,
        ExclusiveStartKey: toAttributesIfAny(input.ExclusiveStartKey),
        ExpressionAttributeValues: toAttributesIfAny(input.ExpressionAttributeValues),
      }),
    );
    return { Items: out.Items?.map(fromAttributes), LastEvaluatedKey: fromAttributesIfAny(out.LastEvaluatedKey) };
  }

  async batchGet(input: BatchGetCommandInput): Promise<Pick<BatchGetCommandOutput, 'Responses' | 'UnprocessedKeys'>> {
    const requests: Record<string, KeysAndAttributes> = {};
    for (const [table, request] of Object.entries(input.RequestItems ?? {})) {
      requests[table] = { ...request, Keys: request.Keys?.map((key: NativeItem) => toAttributes(key)) };
    }
    const out = await this.client.send(new BatchGetItemCommand({ ...input, RequestItems: requests }));
    const responses: Record<string, NativeItem[]> = {};
    for (const [table, items] of Object.entries(out.Responses ?? {})) responses[table] = items.map(fromAttributes);
    const unprocessed: NonNullable<BatchGetCommandOutput['UnprocessedKeys']> = {};
    for (const [table, request] of Object.entries(out.UnprocessedKeys ?? {})) {
      unprocessed[table] = { ...request, Keys: request.Keys?.map(fromAttributes) };
    }
    return { Responses: responses, UnprocessedKeys: unprocessed };
  }
}
