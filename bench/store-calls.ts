/**
 * The CPU the SDK itself spends on one store call, without the store: the notify path's
 * UpdateItem sent many times over a request handler that answers at once, for each way of
 * setting up the client. `npx tsx bench/store-calls.ts [--calls 20000]`.
 */
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { HttpResponse } from '@smithy/core/transport';
import { createEmbeddedStoreClient, embeddedStoreSigner } from '../local/embedded-store';
import { createDocumentClient, createDynamoClient } from '../shared/store/table/client';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '20000' } } });
const calls = Number(values.calls);
if (!Number.isInteger(calls) || calls < 1) throw new Error('--calls is a whole number, 1 or more');

// What dynalite answers an UpdateItem with ReturnValues ALL_OLD, about a device's size.
const ANSWER = JSON.stringify({
  Attributes: {
    pk: { S: 'd#bench' },
    sk: { S: 'device' },
    lifetime: { N: '86400' },
    expiresAt: { N: '1800000000' },
    objects: { M: { '3303': { M: { '0': { M: { '5700': { N: '21.5' }, '5701': { S: 'Cel' } } } } } } },
  },
});

/** Every way signs with the embedded store's fixed signature: DynamoDB's own SigV4 is not counted. */
function clientOf(cacheMiddleware: boolean, trimmed: boolean): DynamoDBClient {
  const endpoint = 'http://127.0.0.1:1';
  const client = trimmed
    ? createEmbeddedStoreClient(endpoint)
    : createDynamoClient({
        endpoint,
        region: 'local',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        signer: embeddedStoreSigner,
      });
  client.config.cacheMiddleware = cacheMiddleware;
  // No network: every request is answered at once, so only the SDK's own work is counted.
  client.config.requestHandler = {
    handle: async () => ({
      response: new HttpResponse({
        statusCode: 200,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: Readable.from([Buffer.from(ANSWER)]),
      }),
    }),
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };
  return client;
}

const write = (i: number): UpdateCommandInput => ({
  TableName: 'lwmqn',
  Key: { pk: 'd#bench', sk: 'device' },
  UpdateExpression: 'SET #o.#i.#r = :v, #e = :e',
  ConditionExpression: 'attribute_exists(pk) AND #s = :s',
  ExpressionAttributeNames: { '#o': 'objects', '#i': '3303', '#r': '0', '#e': 'expiresAt', '#s': 'status' },
  ExpressionAttributeValues: { ':v': { '5700': 21.5 + (i % 7) }, ':e': 1_800_000_000 + i, ':s': 'online' },
  ReturnValues: 'ALL_OLD',
});

const ways: [string, () => (i: number) => Promise<unknown>][] = [
  [
    "lib-dynamodb's DynamoDBDocumentClient (until 2026-12-05)",
    () => {
      const doc = DynamoDBDocumentClient.from(clientOf(false, false), {
        marshallOptions: { removeUndefinedValues: true, allowImpreciseNumbers: true },
        unmarshallOptions: { wrapNumbers: (n: string) => Number(n) },
      });
      return (i) => doc.send(new UpdateCommand(write(i)));
    },
  ],
  [
    'DocumentClient, middleware cached, not trimmed (as for DynamoDB)',
    () => {
      const doc = createDocumentClient(clientOf(true, false));
      return (i) => doc.update(write(i));
    },
  ],
  [
    'DocumentClient, middleware cached and trimmed (the embedded store)',
    () => {
      const doc = createDocumentClient(clientOf(true, true));
      return (i) => doc.update(write(i));
    },
  ],
];

async function cpuPerCall(call: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < calls; i++) await call(i); // warm-up: V8 compiles the hot path
  const before = process.cpuUsage();
  for (let i = 0; i < calls; i++) await call(i);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
}

async function main() {
  console.log(`CPU per UpdateItem, µs (${calls} calls after as many uncounted), three rounds:`);
  const results = new Map<string, number[]>(ways.map(([name]) => [name, []]));
  // Rounds take turns through the ways, so the machine's drift falls on all alike.
  for (let round = 0; round < 3; round++) {
    for (const [name, make] of ways) results.get(name)!.push(await cpuPerCall(make()));
  }
  for (const [name, figures] of results) console.log(`${figures.map((f) => f.toFixed(0).padStart(5)).join(' ')}  ${name}`);
}

void main();
