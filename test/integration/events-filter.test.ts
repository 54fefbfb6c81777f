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

test('only the chosen types reach MQTT; the local stream gets them all', async () => {
  const id = 'ev-filter';
  const dev = await world.device(id, { objects: sampleObjects() });
  expect((await registerDevice(dev)).status).toBe(201);
  await world.events.waitFor(id, 'devIncoming');
  expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 30 })).status).toBe(204);
  expect((await world.http(`/devices/${id}`, { method: 'DELETE' })).status).toBe(200);
  await world.events.waitFor(id, 'devLeaving');

  // devLeaving was published after the notify's events would have been: nothing else came.
  expect(world.events.of(id).map((e) => e.topic.split('/').pop())).toEqual(['devIncoming', 'devLeaving']);
  expect(new Set(onBus.filter((e) => e.clientId === id).map((e) => e.type))).toEqual(
    new Set(['devIncoming', 'devStatus', 'devNotify', 'devChange', 'devLeaving']),
  );
});

test('unset, the lifecycle types reach MQTT and a notify publishes nothing but its answer; the local stream gets them all', async () => {
  const plain = await startWorld({ LWMQN_EVENTS: undefined });
  const seen: LwmqnEvent[] = [];
  plain.stack.bus.subscribe((e) => seen.push(e));
  try {
    const id = 'ev-default';
    const dev = await plain.device(id, { objects: sampleObjects() });
    expect((await registerDevice(dev)).status).toBe(201);
    expect((await dev.call('notify', { oid: 3303, iid: 0, rid: 5700, data: 31 })).status).toBe(204);
    expect((await plain.http(`/devices/${id}`, { method: 'DELETE' })).status).toBe(200);
    await plain.events.waitFor(id, 'devLeaving');
    // devLeaving was published after the notify's events would have been: nothing else came.
    expect(
      plain.events
        .of(id)
        .map((e) => e.topic.split('/').pop())
        .sort(),
    ).toEqual(['devIncoming', 'devLeaving', 'devStatus']);
    expect(seen.filter((e) => e.clientId === id).map((e) => e.type)).toEqual(expect.arrayContaining(['devNotify', 'devChange']));
  } finally {
    await plain.close();
  }
});

test('an unknown type stops the start with one line naming LWMQN_EVENTS', async () => {
  await expect(startWorld({ LWMQN_EVENTS: 'devIncoming,devNotfy' })).rejects.toThrow(
    /^LWMQN_EVENTS: unknown event type devNotfy; use all, none or a list of devIncoming, /,
  );
});
