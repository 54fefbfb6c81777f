import { ConfiguredRetryStrategy } from '@smithy/core/retry';

/**
 * How long one AWS call (a DynamoDB request, an IoT data-plane Publish) may take, every attempt
 * and every pause between attempts included. A Lambda function is given its budget by the
 * stack (`LWMQN_CALL_BUDGET_MS`, derived there from the function's timeout, infra/stack.ts),
 * so a store or endpoint that accepts a connection and never answers fails the call, and the
 * invocation answers or fails cleanly, before Lambda kills it.
 *
 * The budget is a number fixed per container rather than the invocation's remaining time: the
 * SDK's timeouts and retry strategy are settings of a client, and a client is built once per
 * container (functions/lambda/runtime.ts), not per invocation.
 */
export interface CallLimits {
  /** The whole call: maxAttempts × attemptTimeoutMs + (maxAttempts − 1) × pauseMs never exceeds it. */
  budgetMs: number;
  maxAttempts: number;
  /** The SDK's `requestTimeout` (with `throwOnRequestTimeout`): connection, request and response of one attempt. */
  attemptTimeoutMs: number;
  /** The SDK's `connectionTimeout`: a TCP connect in the region takes milliseconds, so a slow one is retried early. */
  connectionTimeoutMs: number;
  /** The fixed pause before a retry (no jitter, no growth: the worst case is a sum, not a distribution). */
  pauseMs: number;
}

/** Without a budget (the local stack, tests): about what the SDK's own defaults gave DynamoDB before (4 × 5 s). */
export const DEFAULT_CALL_BUDGET_MS = 15_000;

const PAUSE_MS = 50;
/** Shorter attempts would cut off healthy calls on a cold container (DNS, TLS handshake, credentials). */
const MIN_ATTEMPT_MS = 400;
/** An attempt this long is surely a hung one: a budget is split into attempts of about this, or longer. */
const GOOD_ATTEMPT_MS = 1_000;
const MAX_ATTEMPTS = 3;
const MAX_CONNECT_MS = 1_000;
/** Below this no attempt could succeed on a cold container: a setting that small is a mistake. */
export const MIN_CALL_BUDGET_MS = MIN_ATTEMPT_MS;

/**
 * Splits a budget evenly into attempts: as many as fit at GOOD_ATTEMPT_MS each, at most 3, and
 * at least 2 while each still gets MIN_ATTEMPT_MS. A retry is worth most for the failures that
 * come fast (a reset connection, a 500, throttling), so a second attempt beats a longer first one.
 */
export function callLimits(budgetMs: number): CallLimits {
  if (!Number.isSafeInteger(budgetMs) || budgetMs < MIN_CALL_BUDGET_MS) {
    throw new Error(`a call budget is a whole number of milliseconds from ${MIN_CALL_BUDGET_MS}, not ${budgetMs}`);
  }
  const fit = (attemptMs: number) => Math.floor((budgetMs + PAUSE_MS) / (attemptMs + PAUSE_MS));
  const maxAttempts = Math.min(MAX_ATTEMPTS, Math.max(fit(GOOD_ATTEMPT_MS), Math.min(2, fit(MIN_ATTEMPT_MS))));
  const attemptTimeoutMs = Math.floor((budgetMs - (maxAttempts - 1) * PAUSE_MS) / maxAttempts);
  return {
    budgetMs,
    maxAttempts,
    attemptTimeoutMs,
    connectionTimeoutMs: Math.min(MAX_CONNECT_MS, attemptTimeoutMs),
    pauseMs: PAUSE_MS,
  };
}

/**
 * The SDK's ConfiguredRetryStrategy (fixed pause, the given attempt count) without one thing: a
 * server's `Retry-After` may stretch the SDK's pause by up to 5 s, which would break the budget.
 * Throttling is still retried, after the same fixed pause.
 */
class BudgetedRetryStrategy extends ConfiguredRetryStrategy {
  override refreshRetryTokenForRetry(...[token, info]: Parameters<ConfiguredRetryStrategy['refreshRetryTokenForRetry']>) {
    return super.refreshRetryTokenForRetry(token, { ...info, retryAfterHint: undefined });
  }
}

/** The client settings (DynamoDBClient, IoTDataPlaneClient) that keep every call inside `budgetMs`. */
export function budgetedClientConfig(budgetMs: number) {
  const limits = callLimits(budgetMs);
  return {
    maxAttempts: limits.maxAttempts,
    retryStrategy: new BudgetedRetryStrategy(limits.maxAttempts, limits.pauseMs),
    requestHandler: {
      connectionTimeout: limits.connectionTimeoutMs,
      requestTimeout: limits.attemptTimeoutMs,
      // Without it the SDK only logs a warning when requestTimeout passes, and the call hangs on.
      throwOnRequestTimeout: true,
    },
  };
}
