import { MemoryPendingCommands } from '../../local/memory-commands';
import { systemClock } from '../../shared/ports';
import { TablePendingCommands } from '../../shared/store/table/commands';
import { startTestStore, type TestStore } from '../helpers/recorder';
import { pendingCommandsContract } from './pending-commands.contract';
import { freshTable } from './tables';

let store: TestStore;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());

pendingCommandsContract('table', async () => new TablePendingCommands(await freshTable(store), systemClock, 5, 20));
pendingCommandsContract('memory', async () => new MemoryPendingCommands());
