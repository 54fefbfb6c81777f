import { CLOUD_EVENTS } from '../../infra/settings';
import { DEFAULT_EVENT_TYPES, eventTypesFromEnv, mqttEventSink, parseEventTypes } from '../../shared/events';
import { EVENT_TYPES } from '../../shared/ports';
import { RecordingPublisher } from '../helpers/recorder';

describe('LWMQN_EVENTS', () => {
  test.each([undefined, '', ' '])('%p (unset) publishes the lifecycle types only', (raw) => {
    expect([...parseEventTypes(raw, 'LWMQN_EVENTS')]).toEqual(['devIncoming', 'devLeaving', 'devUpdate', 'devStatus']);
  });

  test('the default is the same in both runtimes', () => {
    expect(eventTypesFromEnv({})).toEqual(new Set(DEFAULT_EVENT_TYPES));
    expect(CLOUD_EVENTS).toBe(DEFAULT_EVENT_TYPES.join(','));
  });

  test.each(['all', ' all '])('%p publishes every type', (raw) => {
    expect([...parseEventTypes(raw, 'LWMQN_EVENTS')]).toEqual([...EVENT_TYPES]);
  });

  test('none publishes nothing; a list publishes its types, spaces allowed', () => {
    expect(parseEventTypes('none', 'LWMQN_EVENTS').size).toBe(0);
    expect([...parseEventTypes('devStatus, devIncoming', 'LWMQN_EVENTS')]).toEqual(['devStatus', 'devIncoming']);
  });

  test.each(['devnotify', 'all,devNotify', 'none,devStatus', 'devStatus,*'])('%p is refused, naming the setting', (raw) => {
    expect(() => parseEventTypes(raw, 'LWMQN_EVENTS')).toThrow(
      /^LWMQN_EVENTS: unknown event type .+; use all, none or a list of devIncoming/,
    );
  });

  test('the MQTT sink publishes the chosen types only', async () => {
    const published = new RecordingPublisher();
    const sink = mqttEventSink(published, parseEventTypes('devStatus', 'LWMQN_EVENTS'));
    await sink.emit({ type: 'devNotify', clientId: 'd1', data: 1, timestamp: 1 });
    await sink.emit({ type: 'devStatus', clientId: 'd1', data: 'offline', timestamp: 2 });
    expect(published.published.map((p) => p.topic)).toEqual(['lwmqn/events/d1/devStatus']);
  });
});
