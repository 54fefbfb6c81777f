import type { SettingsStore } from '../settings';
import type { Table } from './client';

const JOIN_KEY = { pk: 'settings', sk: 'join' };

export class TableSettingsStore implements SettingsStore {
  constructor(private readonly table: Pick<Table, 'doc' | 'name'>) {}

  async getJoinUntilMs(): Promise<number> {
    const out = await this.table.doc.get({ TableName: this.table.name, Key: JOIN_KEY, ConsistentRead: true });
    return typeof out.Item?.untilMs === 'number' ? out.Item.untilMs : 0;
  }

  async setJoinUntilMs(untilMs: number): Promise<void> {
    await this.table.doc.put({ TableName: this.table.name, Item: { ...JOIN_KEY, untilMs } });
  }
}
