import { OrderedAcks } from '../../local/ordered-acks';

function deferred() {
  let finish!: () => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<void>((ok, ko) => ((finish = ok), (fail = ko)));
  return { promise, finish, fail };
}

/** Lets every settled promise run its callbacks. */
const flush = () => new Promise((r) => setImmediate(r));

test("a device's later message is acknowledged only after its earlier one, even when its own work ends first", async () => {
  const acks = new OrderedAcks();
  const first = deferred();
  const second = deferred();
  const order: string[] = [];
  void acks.after('d1', first.promise).then(() => order.push('first'));
  void acks.after('d1', second.promise).then(() => order.push('second'));
  second.finish();
  await flush();
  expect(order).toEqual([]);
  first.finish();
  await flush();
  expect(order).toEqual(['first', 'second']);
  expect(acks.size).toBe(0);
});

test('devices do not wait for each other', async () => {
  const acks = new OrderedAcks();
  const slow = deferred();
  const order: string[] = [];
  void acks.after('d1', slow.promise).then(() => order.push('d1'));
  void acks.after('d2', Promise.resolve()).then(() => order.push('d2'));
  await flush();
  expect(order).toEqual(['d2']);
  slow.finish();
  await flush();
  expect(order).toEqual(['d2', 'd1']);
});

test('an earlier message that fails holds back the later ones of its device only', async () => {
  const acks = new OrderedAcks();
  const first = deferred();
  const results: string[] = [];
  const record = (name: string, p: Promise<void>) =>
    void p.then(
      () => results.push(`${name} acked`),
      () => results.push(`${name} not acked`),
    );
  record('d1 first', acks.after('d1', first.promise));
  record('d1 second', acks.after('d1', Promise.resolve()));
  record('d2', acks.after('d2', Promise.resolve()));
  first.fail(new Error('handler failed while closing'));
  await flush();
  expect(results.sort()).toEqual(['d1 first not acked', 'd1 second not acked', 'd2 acked']);
  await acks.settled();
  expect(acks.size).toBe(0);
  // Later messages start a new chain once the failed one is settled.
  await expect(acks.after('d1', Promise.resolve())).resolves.toBeUndefined();
});

test('settled() waits for every open message', async () => {
  const acks = new OrderedAcks();
  const work = deferred();
  void acks.after('d1', work.promise);
  let settled = false;
  void acks.settled().then(() => (settled = true));
  await flush();
  expect(settled).toBe(false);
  work.finish();
  await flush();
  expect(settled).toBe(true);
});
