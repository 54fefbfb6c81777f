import { createDocumentClient } from '../../shared/store/table/client';
import { ensureTable } from '../../shared/store/table/definition';
import { indexShards } from '../../shared/store/table/layout';
import { CapturingLog } from '../helpers/integration';
import { startTestStore, type TestStore } from '../helpers/recorder';

let store: TestStore;
let n = 0;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());

async function freshTable(): Promise<string> {
  const name = `layout_${process.pid}_${++n}`;
  await ensureTable(store.client, name);
  return name;
}

test('a new table records the count asked for (or the new-table default); later starts get the recorded one', async () => {
  const doc = createDocumentClient(store.client);
  const table = await freshTable();
  const log = new CapturingLog();
  expect(await indexShards(doc, table, { forNewTable: 1, created: true, log })).toBe(1);
  expect(await indexShards(doc, table, { forNewTable: 8, created: false, log })).toBe(1);
  expect(log.entries).toEqual([]);

  const asked = await freshTable();
  expect(await indexShards(doc, asked, { requested: 4, forNewTable: 1, created: true, log })).toBe(4);
  expect(await indexShards(doc, asked, { forNewTable: 1, created: false, log })).toBe(4);
});

test('asking another count than the recorded one keeps the recorded one and warns', async () => {
  const doc = createDocumentClient(store.client);
  const table = await freshTable();
  const log = new CapturingLog();
  await indexShards(doc, table, { forNewTable: 1, created: true, log });
  expect(await indexShards(doc, table, { requested: 8, forNewTable: 1, created: false, log })).toBe(1);
  expect(log.entries.map((e) => e.msg)).toEqual(['LWMQN_INDEX_SHARDS differs from the table; using the table']);
});

test('a table from before the record is taken as the 8 shards it was written with', async () => {
  const doc = createDocumentClient(store.client);
  const table = await freshTable();
  const log = new CapturingLog();
  expect(await indexShards(doc, table, { forNewTable: 1, created: false, log })).toBe(8);
  expect(await indexShards(doc, table, { forNewTable: 1, created: true, log })).toBe(8);
});

test('two processes starting at once agree on one count', async () => {
  const doc = createDocumentClient(store.client);
  const table = await freshTable();
  const log = new CapturingLog();
  const counts = await Promise.all([
    indexShards(doc, table, { requested: 2, forNewTable: 1, created: true, log }),
    indexShards(doc, table, { requested: 3, forNewTable: 1, created: true, log }),
  ]);
  expect(counts[0]).toBe(counts[1]);
  expect([2, 3]).toContain(counts[0]);
});

test('index sort values: a fraction below one second, fixed per device, spread so that a burst of one second has few ties', async () => {
  const { indexSortValue, tieBreak } = await import('../../shared/store/table/items');
  const ids = Array.from({ length: 20_000 }, (_, i) => `burst-${i}`);
  const fractions = ids.map(tieBreak);
  for (const f of fractions) {
    expect(f).toBeGreaterThanOrEqual(0);
    expect(f).toBeLessThan(1);
    expect(f * 100_000).toBeCloseTo(Math.round(f * 100_000), 6);
  }
  expect(tieBreak('burst-1')).toBe(tieBreak('burst-1'));
  // 20,000 devices over 100,000 fractions: about 1,800 share one; at least 17,000 distinct.
  expect(new Set(fractions).size).toBeGreaterThan(17_000);
  // Kept apart in a double (1e-5 is about 40 steps of one at 1.7e9), and no comparison with whole seconds moves.
  const v = indexSortValue('burst-7', 1_767_226_200);
  expect(v - 1_767_226_200).toBeCloseTo(tieBreak('burst-7'), 6);
  expect(indexSortValue('a', 1_767_226_200) + 0.00001).not.toBe(indexSortValue('a', 1_767_226_200));
  expect(v < 1_767_226_201 && v >= 1_767_226_200).toBe(true);
});
