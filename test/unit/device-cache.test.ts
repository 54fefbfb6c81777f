import type { DeviceItem } from '../../shared/store/model';
import { DeviceCache } from '../../shared/store/device-cache';

const item = (clientId: string, expiresAt = 1000): DeviceItem => ({
  clientId,
  joinTime: 1,
  lifetime: 100,
  ip: '10.0.0.1',
  mac: 'aa',
  version: '',
  objList: {},
  status: 'online',
  expiresAt,
  objects: {},
});

/** A store call that finishes when told to. */
function deferred<T>() {
  let finish!: (value: T) => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<T>((ok, ko) => ((finish = ok), (fail = ko)));
  return { promise, finish, fail };
}

test('a call that says what the item is leaves it cached; null or undefined leave nothing', async () => {
  const cache = new DeviceCache();
  await cache.track(
    'a',
    async () => 'x',
    () => item('a'),
  );
  expect(cache.get('a')?.clientId).toBe('a');
  await cache.track(
    'a',
    async () => 'x',
    () => null,
  );
  expect(cache.get('a')).toBeUndefined();
  await cache.track(
    'a',
    async () => 'x',
    () => item('a'),
  );
  await cache.track(
    'a',
    async () => 'x',
    () => undefined,
  );
  expect(cache.get('a')).toBeUndefined();
});

test('a failed call drops the entry', async () => {
  const cache = new DeviceCache();
  await cache.track(
    'a',
    async () => 1,
    () => item('a'),
  );
  await expect(
    cache.track(
      'a',
      async () => {
        throw new Error('store down');
      },
      () => item('a', 5),
    ),
  ).rejects.toThrow('store down');
  expect(cache.get('a')).toBeUndefined();
});

test('while a call runs, get() gives nothing and peek() the last known item', async () => {
  const cache = new DeviceCache();
  await cache.track(
    'a',
    async () => 1,
    () => item('a', 10),
  );
  const call = deferred<number>();
  const running = cache.track(
    'a',
    () => call.promise,
    () => item('a', 20),
  );
  expect(cache.get('a')).toBeUndefined();
  expect(cache.peek('a')?.expiresAt).toBe(10);
  call.finish(1);
  await running;
  expect(cache.get('a')?.expiresAt).toBe(20);
});

test('calls that overlap on one device leave no entry, whatever order they finish in', async () => {
  for (const order of [
    [0, 1],
    [1, 0],
  ]) {
    const cache = new DeviceCache();
    await cache.track(
      'a',
      async () => 1,
      () => item('a', 10),
    );
    const calls = [deferred<number>(), deferred<number>()];
    const runs = calls.map((c, i) =>
      cache.track(
        'a',
        () => c.promise,
        () => item('a', 100 + i),
      ),
    );
    for (const i of order) {
      calls[i].finish(i);
      await runs[i];
    }
    expect(cache.get('a')).toBeUndefined();
    expect(cache.peek('a')).toBeUndefined();
    // The next call on its own caches again.
    await cache.track(
      'a',
      async () => 1,
      () => item('a', 30),
    );
    expect(cache.get('a')?.expiresAt).toBe(30);
  }
});

test('calls on different devices do not disturb each other', async () => {
  const cache = new DeviceCache();
  const slow = deferred<number>();
  const a = cache.track(
    'a',
    () => slow.promise,
    () => item('a'),
  );
  await cache.track(
    'b',
    async () => 1,
    () => item('b'),
  );
  slow.finish(1);
  await a;
  expect(cache.get('a')?.clientId).toBe('a');
  expect(cache.get('b')?.clientId).toBe('b');
});

test('holds at most `limit` items, dropping the least recently written', async () => {
  const cache = new DeviceCache(2);
  for (const id of ['a', 'b', 'a', 'c'])
    await cache.track(
      id,
      async () => 1,
      () => item(id),
    );
  expect(cache.size).toBe(2);
  expect(cache.get('b')).toBeUndefined();
  expect(cache.get('a')).toBeDefined();
  expect(cache.get('c')).toBeDefined();
});

describe('the directory of devices that have an item', () => {
  test('unknown until loaded; then follows what the calls say', async () => {
    const cache = new DeviceCache();
    expect(cache.knownAbsent('a')).toBe(false);
    cache.loadDirectory(['a']);
    expect(cache.knownAbsent('a')).toBe(false);
    expect(cache.knownAbsent('b')).toBe(true);
    await cache.track(
      'b',
      async () => 1,
      () => item('b'),
    );
    expect(cache.knownAbsent('b')).toBe(false);
    await cache.track(
      'a',
      async () => 1,
      () => null,
    );
    expect(cache.knownAbsent('a')).toBe(true);
    // A write that cannot create or remove the item leaves the directory as it was.
    await cache.track(
      'a',
      async () => 1,
      () => undefined,
    );
    expect(cache.knownAbsent('a')).toBe(true);
  });

  test('a failed call, a call under way, or calls that overlapped leave existence in doubt until read again', async () => {
    const cache = new DeviceCache();
    cache.loadDirectory([]);
    await expect(
      cache.track(
        'a',
        async () => Promise.reject(new Error('timeout')),
        () => item('a'),
      ),
    ).rejects.toThrow();
    expect(cache.knownAbsent('a')).toBe(false);
    await cache.track(
      'a',
      async () => 1,
      () => null,
    );
    expect(cache.knownAbsent('a')).toBe(true);

    const slow = deferred<number>();
    const running = cache.track(
      'a',
      () => slow.promise,
      () => item('a'),
    );
    expect(cache.knownAbsent('a')).toBe(false);
    const other = cache.track(
      'a',
      async () => 1,
      () => null,
    );
    slow.finish(1);
    await Promise.all([running, other]);
    expect(cache.knownAbsent('a')).toBe(false);
  });
});
