import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import pino from 'pino';
import { configFromEnv, positiveInt } from '../../shared/config';
import type { ChannelMessage, Deps } from '../../shared/deps';
import { mqttEventSink } from '../../shared/events';
import { systemClock, type Publisher } from '../../shared/ports';
import { createDocumentClient, RegistryStore } from '../../shared/store/registry';

/**
 * Lambda glue: builds the ports from the environment once per container. The topic rule
 * delivers exactly the DESIGN.md message, so an entry only hands it to its handler.
 */
let cached: Deps | undefined;
let publisherOverride: Publisher | undefined;

/**
 * Test seam: the entries publish through `publisher` instead of the IoT data plane (undefined
 * restores it). Drops the cached deps, so the environment is read again on the next message.
 */
export function setPublisherForTests(publisher: Publisher | undefined): void {
  publisherOverride = publisher;
  cached = undefined;
}

export function iotPublisher(client: IoTDataPlaneClient): Publisher {
  return {
    publish: async (topic, payload) => {
      await client.send(new PublishCommand({ topic, qos: 1, payload: Buffer.from(payload) }));
    },
  };
}

export function depsFromEnv(env: NodeJS.ProcessEnv = process.env): Deps {
  if (cached) return cached;
  const dynamo = new DynamoDBClient({
    ...(env.DYNAMODB_ENDPOINT ? { endpoint: env.DYNAMODB_ENDPOINT } : {}),
    // A store that stops answering fails the call (retried) instead of hanging the invocation
    // until the Lambda timeout: without throwOnRequestTimeout the SDK only logs a warning.
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
  });
  const publisher =
    publisherOverride ??
    iotPublisher(new IoTDataPlaneClient(env.IOT_DATA_ENDPOINT ? { endpoint: `https://${env.IOT_DATA_ENDPOINT}` } : {}));
  cached = {
    store: new RegistryStore(createDocumentClient(dynamo), env.TABLE_NAME ?? 'lwmqn', positiveInt(env, 'LWMQN_INDEX_SHARDS', 8)),
    publisher,
    events: mqttEventSink(publisher),
    clock: systemClock,
    log: pino({ level: env.LOG_LEVEL ?? 'info' }),
    config: configFromEnv(env),
  };
  return cached;
}

/** A channel entry for a topic rule's Lambda action. Errors propagate so the invocation is retried. */
export function channelEntry(handle: (message: ChannelMessage, deps: Deps) => Promise<void>) {
  return async (event: ChannelMessage): Promise<void> => handle(event, depsFromEnv());
}
