import { MemoryPendingCommands } from '../../local/memory-commands';
import { systemClock } from '../../shared/ports';
import type { Table } from '../../shared/store/table/client';
import { pollTimes, TablePendingCommands } from '../../shared/store/table/commands';
import { requestKey } from '../../shared/store/table/items';
import { startTestStore, type TestStore } from '../helpers/recorder';
import { pendingCommandsContract } from './pending-commands.contract';
import { freshTable } from './tables';

let store: TestStore;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());

pendingCommandsContract('table', async () => new TablePendingCommands(await freshTable(store), systemClock, 5, 20));
pendingCommandsContract('memory', async () => new MemoryPendingCommands());

describe('the table: reads per command, and no answered item left behind', () => {
  /** The table's document client, counting the consistent reads of request items. */
  async function counted(): Promise<{ commands: TablePendingCommands; reads: () => number; table: Table }> {
    const table = await freshTable(store);
    let reads = 0;
    const doc: Table['doc'] = Object.create(table.doc);
    doc.get = (input) => {
      reads++;
      return table.doc.get(input);
    };
    return { commands: new TablePendingCommands({ doc, name: table.name }, systemClock), reads: () => reads, table };
  }
  const request = { clientId: 'c', cmdId: 0, oid: '3303', expiresAt: Math.ceil(Date.now() / 1000) + 10 };

  test('the schedule: 25, 75, 175, 375 ms as before, then growing; 11 reads for a silent device over 10 s', () => {
    const times = pollTimes(10_000);
    expect(times.slice(0, 4)).toEqual([25, 75, 175, 375]);
    expect(times).toHaveLength(11);
    expect(times.at(-1)).toBe(10_000);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]);
  });

  test('a silent device: exactly the scheduled reads, then null', async () => {
    const { commands, reads } = await counted();
    const req = await commands.open(request);
    expect(await commands.wait(req, 1_500)).toBeNull();
    expect(reads()).toBe(pollTimes(1_500).length);
  });

  test('an answered request: read until the answer is seen, then its item is removed', async () => {
    const { commands, reads, table } = await counted();
    const req = await commands.open(request);
    const waiting = commands.wait(req, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    await commands.claim('c', 0, req.transId, { status: 205, data: 1 }, Date.now());
    expect(await waiting).toEqual({ status: 205, data: 1 });
    expect(reads()).toBeLessThanOrEqual(5);
    const left = await table.doc.get({ TableName: table.name, Key: requestKey('c', 0, req.transId), ConsistentRead: true });
    expect(left.Item).toBeUndefined();
    // A late duplicate of the answer finds nobody waiting.
    expect(await commands.claim('c', 0, req.transId, { status: 205, data: 1 }, Date.now())).toBeNull();
  });
});
