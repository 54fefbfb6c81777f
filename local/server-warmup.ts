import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { notify } from '../functions/notify';
import type { Deps } from '../shared/deps';
import type { Metrics, Publisher } from '../shared/ports';
import { CachedDeviceStore } from '../shared/store/cached-devices';
import { toSeconds } from '../shared/store/model';
import { fixedShards } from '../shared/store/table/client';
import type { DocumentClient } from '../shared/store/table/document-client';
import { ensureTable } from '../shared/store/table/definition';
import { TableDeviceStore } from '../shared/store/table/devices';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Devices on the scratch table, and how many of their notifies run at once (about a busy fleet's share). */
const DEVICES = 8;
const IN_FLIGHT = 16;

const nothing: Publisher = { publish: async () => undefined };
const noMetrics: Metrics = { handled() {}, answered() {}, storeCall() {}, commandEnded() {} };

/**
 * Runs `notifies` notifies through the real notify handler, the device cache, the SDK and the
 * embedded store, on a scratch table that is deleted afterwards, right after the server is
 * ready. V8 optimises a function only once it has run many times, so a server fresh from
 * `npm start` served its first seconds of notifies at about half its later rate
 * (docs/PERFORMANCE.md); this takes about a second in the background, before devices that
 * connect at start have registered. Nothing is published and nothing is counted in /metrics.
 * Stops early when `stopped()` turns true (a shutdown does not wait for it). Returns how many
 * notifies it ran.
 */
export async function warmUpServer(
  deps: Deps,
  store: { client: DynamoDBClient; doc: DocumentClient; tableName: string },
  notifies: number,
  stopped: () => boolean,
): Promise<number> {
  const name = `${store.tableName}-warmup`;
  await ensureTable(store.client, name);
  try {
    const devices = new CachedDeviceStore(new TableDeviceStore({ doc: store.doc, name, shards: fixedShards(1) }));
    const scratch: Deps = { ...deps, devices, publisher: nothing, events: { emit: async () => undefined }, metrics: noMetrics };
    const now = deps.clock.now();
    for (let d = 0; d < DEVICES; d++) {
      await devices.create(
        {
          clientId: `warmup-${d}`,
          joinTime: toSeconds(now),
          lifetime: 3600,
          ip: '127.0.0.1',
          mac: `warmup-${d}`,
          version: '0',
          objList: { '3303': [0] },
          status: 'online',
          expiresAt: toSeconds(now) + 3600,
          objects: { '3303': { '0': { '5700': 0, '5701': 'C' } } },
        },
        now,
      );
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < notifies && !stopped()) {
          const i = next++;
          // The shape mqtt-node sends: IPSO names, one resource.
          const body = { transId: i % 65536, oid: 'temperature', iid: 0, rid: 'sensorValue', data: 20 + (i % 100) / 10 };
          await notify(
            {
              topic: `notify/warmup-${i % DEVICES}`,
              payload: Buffer.from(JSON.stringify(body)).toString('base64'),
              receivedAt: Date.now(),
            },
            scratch,
          );
        }
      }),
    );
    return next;
  } finally {
    await store.client.send(new DeleteTableCommand({ TableName: name }));
  }
}
