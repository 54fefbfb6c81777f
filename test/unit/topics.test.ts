import {
  MAX_CLIENT_ID_LENGTH,
  SERVER_SUBSCRIPTIONS,
  eventTopic,
  isValidClientId,
  parseClientTopic,
  requestTopic,
  responseTopic,
} from '../../shared/protocol/topics';

describe('parseClientTopic', () => {
  test.each(['register', 'deregister', 'update', 'ping', 'notify', 'schedule', 'lwt', 'response'])(
    '%s/<id> is a client channel',
    (channel) => {
      expect(parseClientTopic(`${channel}/node-1`)).toEqual({ channel, clientId: 'node-1' });
    },
  );

  test('a clientId may hold any printable character except / + #', () => {
    expect(parseClientTopic('ping/a b.c:d@e_f-ü☀')).toEqual({ channel: 'ping', clientId: 'a b.c:d@e_f-ü☀' });
  });

  test.each([
    ['a server response topic', 'register/response/node-1'],
    ['three levels', 'notify/node-1/x'],
    ['an empty clientId', 'ping/'],
    ['no channel', '/node-1'],
    ['no level separator', 'ping'],
    ['the empty topic', ''],
    ['an unknown channel', 'request/node-1'],
    ['announce', 'announce'],
    ['the channel in another case', 'PING/node-1'],
    ['a + wildcard', 'ping/+'],
    ['a + inside the id', 'ping/a+b'],
    ['a # wildcard', 'ping/#'],
    ['a NUL', 'ping/a\u0000b'],
    ['a control character', 'ping/a\u001bb'],
    ['DEL', 'ping/a\u007fb'],
    ['an id one character too long', `ping/${'x'.repeat(MAX_CLIENT_ID_LENGTH + 1)}`],
    ['an event topic', 'lwmqn/events/node-1/devStatus'],
  ])('%s is not ours', (_name, topic) => {
    expect(parseClientTopic(topic)).toBeNull();
  });

  test('an id of exactly the maximum length is accepted', () => {
    const id = 'x'.repeat(MAX_CLIENT_ID_LENGTH);
    expect(parseClientTopic(`ping/${id}`)).toEqual({ channel: 'ping', clientId: id });
  });
});

describe('isValidClientId', () => {
  test('1..128 characters', () => {
    expect(MAX_CLIENT_ID_LENGTH).toBe(128);
    expect(isValidClientId('a')).toBe(true);
    expect(isValidClientId('')).toBe(false);
    expect(isValidClientId('a'.repeat(128))).toBe(true);
    expect(isValidClientId('a'.repeat(129))).toBe(false);
  });

  test.each(['a/b', 'a+b', 'a#b', 'a\u0000b', 'a\nb'])('%j is invalid', (id) => {
    expect(isValidClientId(id)).toBe(false);
  });
});

describe('server topics', () => {
  test('responses have three levels, so the server subscriptions never match them', () => {
    expect(responseTopic('register', 'n1')).toBe('register/response/n1');
    expect(responseTopic('schedule', 'n1')).toBe('schedule/response/n1');
    expect(parseClientTopic(responseTopic('register', 'n1'))).toBeNull();
  });

  test('request, event and subscription topics', () => {
    expect(requestTopic('n1')).toBe('request/n1');
    expect(eventTopic('n1', 'devStatus')).toBe('lwmqn/events/n1/devStatus');
    expect([...SERVER_SUBSCRIPTIONS].sort()).toEqual(
      ['register/+', 'deregister/+', 'update/+', 'ping/+', 'notify/+', 'schedule/+', 'lwt/+', 'response/+'].sort(),
    );
  });
});
