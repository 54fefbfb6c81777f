import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { budgetedClientConfig, DEFAULT_CALL_BUDGET_MS } from '../../call-budget';
import type { Metrics } from '../../ports';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The one DynamoDB client set-up of both runtimes. A store that stops answering fails the call
 * (and the handler is retried) instead of hanging it: every call, all attempts included, ends
 * within `budgetMs` (shared/call-budget.ts).
 */
export function createDynamoClient(
  config: Omit<DynamoDBClientConfig, 'requestHandler' | 'maxAttempts' | 'retryStrategy'> = {},
  budgetMs = DEFAULT_CALL_BUDGET_MS,
): DynamoDBClient {
  return new DynamoDBClient({ ...config, ...budgetedClientConfig(budgetMs) });
}

export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, allowImpreciseNumbers: true },
    // Devices send any JSON number; read them back as plain numbers instead of throwing.
    unmarshallOptions: { wrapNumbers: (n: string) => Number(n) },
  });
}

/** The table a store works on: its document client, its name, how many index shards it has. */
export interface Table {
  doc: DynamoDBDocumentClient;
  name: string;
  /**
   * Read only by the calls that write or query an index: the Lambda runtime learns the count
   * from the table on first use, so a message that needs no index (a notify, a spoof) costs no read.
   */
  shards: () => Promise<number>;
}

/** A table whose shard count is known up front (the local stack reads it before it starts). */
export const fixedShards =
  (count: number): Table['shards'] =>
  () =>
    Promise.resolve(count);

/** Times every store request and counts the failed ones, by operation (GetItem, UpdateItem...). */
export function instrumentStore(client: DynamoDBClient, metrics: Metrics): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const started = performance.now();
      let failed = true;
      try {
        const out = await next(args);
        failed = false;
        return out;
      } finally {
        metrics.storeCall(
          String(context.commandName ?? 'unknown').replace(/Command$/, ''),
          (performance.now() - started) / 1000,
          failed,
        );
      }
    },
    { step: 'initialize', name: 'lwmqnStoreMetrics' },
  );
}
