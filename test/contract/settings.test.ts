import { TableSettingsStore } from '../../shared/store/table/settings';
import type { SettingsStore } from '../../shared/store/settings';
import { startTestStore, type TestStore } from '../helpers/recorder';
import { freshTable } from './tables';

let store: TestStore;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());

/** What every SettingsStore must do (shared/store/settings.ts); the table is its one implementation. */
function settingsStoreContract(name: string, make: () => Promise<SettingsStore>): void {
  describe(`SettingsStore contract: ${name}`, () => {
    test('the join window is closed until one is set, and the last one set holds', async () => {
      const settings = await make();
      expect(await settings.getJoinUntilMs()).toBe(0);
      await settings.setJoinUntilMs(1_767_225_600_000);
      expect(await settings.getJoinUntilMs()).toBe(1_767_225_600_000);
      await settings.setJoinUntilMs(5);
      expect(await settings.getJoinUntilMs()).toBe(5);
    });
  });
}

settingsStoreContract('table', async () => new TableSettingsStore(await freshTable(store)));
