import { Writable } from 'node:stream';
import { coalesceWrites } from '../../local/bridge';

/** A socket stand-in that records each write the stream hands down (one per system call on a socket). */
function recordingStream() {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk.toString()]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      cb();
    },
  });
  return { stream, calls };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('packets written in one turn of the event loop go down in one write, in their order', async () => {
  const { stream, calls } = recordingStream();
  coalesceWrites(stream);
  stream.write('puback');
  await Promise.resolve();
  process.nextTick(() => stream.write('answer'));
  stream.write('event');
  expect(calls).toEqual([]);
  await turn();
  expect(calls).toEqual([['puback', 'event', 'answer']]);
});

test('a later turn starts a new write, and nothing is held once the turn ends', async () => {
  const { stream, calls } = recordingStream();
  coalesceWrites(stream);
  stream.write('a');
  await turn();
  stream.write('b');
  stream.write('c');
  await turn();
  expect(calls).toEqual([['a'], ['b', 'c']]);
  expect(stream.writableCorked).toBe(0);
});

test('the stream is wrapped once, however often the bridge reconnects over it', async () => {
  const { stream, calls } = recordingStream();
  coalesceWrites(stream);
  coalesceWrites(stream);
  stream.write('x');
  await turn();
  expect(stream.writableCorked).toBe(0);
  expect(calls).toEqual([['x']]);
});
