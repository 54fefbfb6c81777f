import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { budgetedClientConfig, DEFAULT_CALL_BUDGET_MS } from '../../call-budget';
import type { Metrics } from '../../ports';
import { DocumentClient } from './document-client';

/**
 * The one DynamoDB client set-up of both runtimes. A store that stops answering fails the call
 * (and the handler is retried) instead of hanging it: every call, all attempts included, ends
 * within `budgetMs` (shared/call-budget.ts). `transport` replaces the SDK's HTTP handler (the
 * local store thread's channel, local/store-channel.ts); it is given each attempt's time limit.
 */
export function createDynamoClient(
  config: Omit<DynamoDBClientConfig, 'requestHandler' | 'maxAttempts' | 'retryStrategy'> = {},
  budgetMs = DEFAULT_CALL_BUDGET_MS,
  transport?: (attemptTimeoutMs: number) => NonNullable<DynamoDBClientConfig['requestHandler']>,
): DynamoDBClient {
  const budgeted = budgetedClientConfig(budgetMs);
  const requestHandler = transport ? transport(budgeted.requestHandler.requestTimeout) : budgeted.requestHandler;
  // cacheMiddleware: the SDK resolves each command's middleware stack once, not on every call
  // (docs/PERFORMANCE.md, "The SDK's own work per call"). So no middleware is added after the
  // first call: instrumentStore and local/embedded-store.ts's trimForEmbeddedStore run before.
  return new DynamoDBClient({ ...config, ...budgeted, requestHandler, cacheMiddleware: true });
}

export function createDocumentClient(client: DynamoDBClient): DocumentClient {
  return new DocumentClient(client);
}

/** The table a store works on: its document client, its name, how many index shards it has. */
export interface Table {
  doc: DocumentClient;
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
