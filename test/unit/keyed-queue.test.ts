import { KeyedQueue } from '../../local/keyed-queue';

const tick = () => new Promise((r) => setImmediate(r));

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

test('tasks of one key run in order, tasks of different keys run side by side', async () => {
  const q = new KeyedQueue();
  const log: string[] = [];
  const a1 = gate();
  void q.push('a', async () => {
    log.push('a1 start');
    await a1.opened;
    log.push('a1 end');
  });
  void q.push('a', async () => void log.push('a2'));
  void q.push('b', async () => void log.push('b1'));
  await tick();
  expect(log).toEqual(['a1 start', 'b1']);
  a1.open();
  await q.idle();
  expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
});

test('a failed task does not stop the next one of its key', async () => {
  const q = new KeyedQueue();
  const failed = q.push('a', async () => {
    throw new Error('boom');
  });
  const ran = jest.fn();
  const next = q.push('a', async () => ran());
  await expect(failed).rejects.toThrow('boom');
  await next;
  expect(ran).toHaveBeenCalled();
});

test('at most `limit` tasks run at once, and urgent ones take the next free slot', async () => {
  const q = new KeyedQueue(2);
  const gates = [gate(), gate()];
  let running = 0;
  let peak = 0;
  const order: string[] = [];
  const task = (name: string, g?: { opened: Promise<void> }) => async () => {
    running++;
    peak = Math.max(peak, running);
    order.push(name);
    await g?.opened;
    running--;
  };
  void q.push('k1', task('k1', gates[0]));
  void q.push('k2', task('k2', gates[1]));
  void q.push('k3', task('k3 normal'));
  void q.push('k4', task('k4 urgent'), true);
  await tick();
  expect(order).toEqual(['k1', 'k2']);
  gates[0].open();
  await tick();
  await tick();
  expect(order[2]).toBe('k4 urgent');
  gates[1].open();
  await q.idle();
  expect(order).toEqual(['k1', 'k2', 'k4 urgent', 'k3 normal']);
  expect(peak).toBe(2);
  expect(q.size).toBe(0);
});
