import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import pino from 'pino';
import { budgetedClientConfig, DEFAULT_CALL_BUDGET_MS, MIN_CALL_BUDGET_MS } from '../../shared/call-budget';
import { configFromEnv, positiveInt } from '../../shared/config';
import type { Deps } from '../../shared/deps';
import { eventTypesFromEnv, mqttEventSink } from '../../shared/events';
import { systemClock, type Publisher } from '../../shared/ports';
import { EVENTS_TOPIC_PREFIX } from '../../shared/protocol/topics';
import { createDocumentClient, createDynamoClient, instrumentStore, type Table } from '../../shared/store/table/client';
import { TablePendingCommands } from '../../shared/store/table/commands';
import { TableDeviceStore } from '../../shared/store/table/devices';
import { LEGACY_SHARDS, recordedIndexShards } from '../../shared/store/table/layout';
import { TableRegistrationStore } from '../../shared/store/table/registrations';
import { TableSettingsStore } from '../../shared/store/table/settings';
import { EmfMetrics } from './emf-metrics';

/**
 * The cloud runtime's composition root: builds every port from the environment, once per
 * container. Everything that waits for a device answer lives in the table here, because the
 * answer arrives in another invocation.
 */

/** The settings the deps are built from: another value (a test changing them) builds them anew. */
const SETTINGS = [
  'TABLE_NAME',
  'DYNAMODB_ENDPOINT',
  'IOT_DATA_ENDPOINT',
  'AWS_REGION',
  'LWMQN_INDEX_SHARDS',
  'LWMQN_REQUEST_TIMEOUT_MS',
  'LWMQN_JOIN',
  'LWMQN_DEFAULT_LIFETIME',
  'LWMQN_CALL_BUDGET_MS',
  'LWMQN_EVENTS',
  'LOG_LEVEL',
];

let built: { key: string; deps: Promise<Deps> } | undefined;

/** This container's metrics, written at the end of each invocation (`flushMetrics`). */
export const metrics = new EmfMetrics();
export const flushMetrics = (): void => metrics.flush();

export function depsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Deps> {
  const key = JSON.stringify(SETTINGS.map((name) => env[name]));
  if (built?.key !== key) {
    const deps = buildDeps(env);
    built = { key, deps };
    // A failed build (the store unreachable) is not kept: the next invocation tries again.
    deps.catch(() => {
      if (built?.deps === deps) built = undefined;
    });
  }
  return built.deps;
}

/**
 * How long one store or publish call may take, retries included (shared/call-budget.ts). The
 * stack sets it from each function's timeout (infra/stack.ts, `callBudgets`).
 */
export function callBudgetFromEnv(env: NodeJS.ProcessEnv): number {
  const budget = positiveInt(env, 'LWMQN_CALL_BUDGET_MS', DEFAULT_CALL_BUDGET_MS);
  if (budget < MIN_CALL_BUDGET_MS) throw new Error(`LWMQN_CALL_BUDGET_MS must be at least ${MIN_CALL_BUDGET_MS}, not ${budget}`);
  return budget;
}

/**
 * `IOT_DATA_ENDPOINT` is the account's data endpoint host (https), or a full URL: the cloud
 * emulation and the entry tests run a local stand-in for the data plane. Every publish ends
 * within the call budget, like every store call.
 */
export function iotPublisher(env: NodeJS.ProcessEnv): Publisher {
  const endpoint = env.IOT_DATA_ENDPOINT;
  const client = new IoTDataPlaneClient({
    ...(endpoint ? { endpoint: /^https?:\/\//.test(endpoint) ? endpoint : `https://${endpoint}` } : {}),
    ...budgetedClientConfig(callBudgetFromEnv(env)),
  });
  return {
    publish: async (topic, payload) => {
      await client.send(new PublishCommand({ topic, qos: cloudQos(topic), payload: Buffer.from(payload) }));
    },
  };
}

/**
 * The QoS of what the functions publish. To a device (responses, requests, announce) QoS 0:
 * IoT Core bills the PUBACK a device sends for a QoS 1 delivery as one more message
 * (docs/DEPLOY.md), and the protocol already covers a lost one: the device's own timeout for a
 * response, the request timeout (408) for a request. Events stay at QoS 1: a subscriber that
 * asks for QoS 1 gets what it asked for, one that subscribes at QoS 0 costs no PUBACK either.
 */
export const cloudQos = (topic: string): 0 | 1 => (topic.startsWith(EVENTS_TOPIC_PREFIX) ? 1 : 0);

async function buildDeps(env: NodeJS.ProcessEnv): Promise<Deps> {
  const dynamo = createDynamoClient(env.DYNAMODB_ENDPOINT ? { endpoint: env.DYNAMODB_ENDPOINT } : {}, callBudgetFromEnv(env));
  instrumentStore(dynamo, metrics);
  const doc = createDocumentClient(dynamo);
  const name = env.TABLE_NAME ?? 'lwmqn';
  const configured = positiveInt(env, 'LWMQN_INDEX_SHARDS', LEGACY_SHARDS);
  // The table records how many shards its indexes are spread over (shared/store/table/layout.ts);
  // a table without the record (made by the CDK stack, before any local start) uses the setting.
  let shards: Promise<number> | undefined;
  const table: Table = {
    doc,
    name,
    shards: () => {
      shards ??= recordedIndexShards(doc, name).then(
        (recorded) => recorded ?? configured,
        (err: unknown) => {
          shards = undefined; // read again by the next call
          throw err;
        },
      );
      return shards;
    },
  };
  const publisher = iotPublisher(env);
  return {
    devices: new TableDeviceStore(table),
    registrations: new TableRegistrationStore(table),
    commands: new TablePendingCommands(table, systemClock),
    settings: new TableSettingsStore(table),
    publisher,
    events: mqttEventSink(publisher, eventTypesFromEnv(env)),
    clock: systemClock,
    log: pino({ level: env.LOG_LEVEL ?? 'info' }),
    metrics,
    config: configFromEnv(env),
  };
}
