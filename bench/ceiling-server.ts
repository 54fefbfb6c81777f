import mqtt from 'mqtt';
import { startMosquitto } from '../test/helpers/mosquitto';
import type { ServerUnderTest } from './servers';

/**
 * The fastest registration any server could give these devices: a responder over its own
 * Mosquitto that reads every object in objList, as docs/PROTOCOL.md, "Registration", asks, and answers 201
 * the moment the last read is answered. It stores, checks and emits nothing, so a burst against
 * it measures the devices' own work; `--ceiling` puts it beside the servers in phase 1.
 */
export async function startCeiling(): Promise<ServerUnderTest> {
  const broker = await startMosquitto(['allow_anonymous true', 'max_connections -1']);
  const client = await mqtt.connectAsync(broker.url, { clientId: 'bench-ceiling', clean: true, reconnectPeriod: 0 });
  await client.subscribeAsync(['register/+', 'response/+', 'deregister/+'], { qos: 1 });
  const pending = new Map<string, { transId: number; reads: Set<number> }>();
  let nextTransId = 1;
  const answer = (topic: string, body: object) => client.publish(topic, JSON.stringify(body), { qos: 1 });
  client.on('message', (topic, payload) => {
    const [channel, clientId] = topic.split('/');
    let msg: { transId?: number; objList?: Record<string, unknown>; status?: number };
    try {
      msg = JSON.parse(payload.toString()) as typeof msg;
    } catch {
      return;
    }
    if (channel === 'register') {
      const reads = new Set<number>();
      pending.set(clientId, { transId: msg.transId ?? 0, reads });
      for (const oid of Object.keys(msg.objList ?? {})) {
        const transId = nextTransId++ % 65536;
        reads.add(transId);
        answer(`request/${clientId}`, { transId, cmdId: 0, oid: Number(oid) });
      }
    } else if (channel === 'response') {
      const registration = pending.get(clientId);
      if (!registration || !registration.reads.delete(msg.transId ?? -1)) return;
      const failed = msg.status !== 205;
      if (!failed && registration.reads.size > 0) return;
      pending.delete(clientId);
      answer(`register/response/${clientId}`, { transId: registration.transId, status: failed ? 500 : 201 });
    } else if (channel === 'deregister') {
      answer(`deregister/response/${clientId}`, { transId: msg.transId, status: 202 });
    }
  });
  return {
    name: 'client ceiling',
    mqttUrl: broker.url,
    apiUrl: '', // phase 1 only: it has no API, and no process of its own to measure
    pid: process.pid,
    stop: async () => {
      await client.endAsync(true);
      await broker.stop();
    },
  };
}
