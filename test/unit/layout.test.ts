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
