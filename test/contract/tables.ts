import { createDocumentClient, fixedShards, type Table } from '../../shared/store/table/client';
import { ensureTable } from '../../shared/store/table/definition';
import type { TestStore } from '../helpers/recorder';

let n = 0;

/** A fresh table in the test file's in-memory store, spread over `shards` index shards. */
export async function freshTable(store: TestStore, shards = 2): Promise<Table> {
  const name = `contract_${process.pid}_${++n}`;
  await ensureTable(store.client, name);
  return { doc: createDocumentClient(store.client), name, shards: fixedShards(shards) };
}

export const T0 = Date.UTC(2026, 0, 1);
