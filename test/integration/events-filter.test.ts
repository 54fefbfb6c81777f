import type { LwmqnEvent } from '../../shared/ports';
import { registerDevice, sampleObjects, startWorld, type IntegrationWorld } from '../helpers/integration';

/**
 * LWMQN_EVENTS chooses what is published on MQTT (docs/DEPLOY.md, "What a million notifications
 * cost"); the local stream behind GET /events (the in-process bus) still gets every event.
 */
let world: IntegrationWorld;
const onBus: LwmqnEvent[] = [];

beforeAll(async () => {
  world = await startWorld({ LWMQN_EVENTS: 'devIncoming, devLeaving' });
  world.stack.bus.subscribe((e) => onBus.push(e));
});
afterAll(async () => world?.close());

/**
 * A device's life on `on`: registered, one notify, removed through the API. Returns the event
 * types published on MQTT for it, in order, and those on the local stream. devLeaving is
 * published after the notify's events would have been, so once it is in, nothing else comes.
 */
async function lifeOf(on: IntegrationWorld, bus: LwmqnEvent[], id: string): Promise<{ mqtt: string[]; local: string[] }> {
  const dev = await on.device(id, { objects: sampleObjects() });
  expect((await registerDevice(dev)).status).toBe(201);
  await on.events.waitFor(id, 'devIncoming');
  expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 30 })).status).toBe(204);
  expect((await on.http(`/devices/${id}`, { method: 'DELETE' })).status).toBe(200);
  await on.events.waitFor(id, 'devLeaving');
  return {
    mqtt: on.events.of(id).map((e) => e.topic.split('/').pop()!),
    local: bus.filter((e) => e.clientId === id).map((e) => e.type),
  };
}

test('only the chosen types reach MQTT; the local stream gets them all', async () => {
  const { mqtt, local } = await lifeOf(world, onBus, 'ev-filter');
  expect(mqtt).toEqual(['devIncoming', 'devLeaving']);
  expect(new Set(local)).toEqual(new Set(['devIncoming', 'devStatus', 'devNotify', 'devChange', 'devLeaving']));
});

test('unset, the lifecycle types reach MQTT and a notify publishes nothing but its answer; the local stream gets them all', async () => {
  const plain = await startWorld({ LWMQN_EVENTS: undefined });
  const seen: LwmqnEvent[] = [];
  plain.stack.bus.subscribe((e) => seen.push(e));
  try {
    const { mqtt, local } = await lifeOf(plain, seen, 'ev-default');
    expect(mqtt.sort()).toEqual(['devIncoming', 'devLeaving', 'devStatus']);
    expect(local).toEqual(expect.arrayContaining(['devNotify', 'devChange']));
  } finally {
    await plain.close();
  }
});

test('an unknown type stops the start with one line naming LWMQN_EVENTS', async () => {
  await expect(startWorld({ LWMQN_EVENTS: 'devIncoming,devNotfy' })).rejects.toThrow(
    /^LWMQN_EVENTS: unknown event type devNotfy; use all, none or a list of devIncoming, /,
  );
});
