import { CHANNEL_HANDLERS } from '../../functions';
import { Bridge, displayUrl } from '../../local/bridge';
import { bridgeLogin } from '../../local/stack';
import { silentLog } from '../helpers/recorder';

test('the bridge account: lwmqn-bridge when only the password is set, the username when given, nothing when neither', () => {
  expect(bridgeLogin({ LWMQN_BRIDGE_PASSWORD: 'pw' })).toEqual({ username: 'lwmqn-bridge', password: 'pw' });
  expect(bridgeLogin({ LWMQN_BRIDGE_USERNAME: 'other', LWMQN_BRIDGE_PASSWORD: 'pw' })).toEqual({
    username: 'other',
    password: 'pw',
  });
  expect(bridgeLogin({ LWMQN_BRIDGE_USERNAME: '', LWMQN_BRIDGE_PASSWORD: 'pw' })).toEqual({
    username: 'lwmqn-bridge',
    password: 'pw',
  });
  expect(bridgeLogin({ LWMQN_BRIDGE_USERNAME: 'other' })).toEqual({ username: 'other', password: undefined });
  expect(bridgeLogin({ LWMQN_BRIDGE_PASSWORD: '' })).toEqual({ username: undefined, password: undefined });
  expect(bridgeLogin({})).toEqual({ username: undefined, password: undefined });
});

test('a password without a username is refused at once (MQTT.js would drop every connection silently)', () => {
  expect(
    () => new Bridge({ url: 'mqtt://127.0.0.1:1', clientId: 'b', password: 'pw', log: silentLog, handlers: CHANNEL_HANDLERS }),
  ).toThrow('a broker password needs a username');
});

test('the broker URL in logs and /health carries no password', () => {
  expect(displayUrl('mqtt://127.0.0.1:1883')).toBe('mqtt://127.0.0.1:1883');
  expect(displayUrl('mqtt://bridge:s3cret@broker:1883')).toBe('mqtt://bridge:***@broker:1883');
  expect(displayUrl('mqtts://bridge@broker')).toBe('mqtts://bridge@broker');
});
