import { MemoryRegistrationStore } from '../../local/memory-registrations';
import { TableRegistrationStore } from '../../shared/store/table/registrations';
import { startTestStore, type TestStore } from '../helpers/recorder';
import { registrationStoreContract } from './registration-store.contract';
import { freshTable } from './tables';

let store: TestStore;
beforeAll(async () => (store = await startTestStore()));
afterAll(async () => store.close());

registrationStoreContract('table', async () => new TableRegistrationStore(await freshTable(store)));
registrationStoreContract('memory', async () => new MemoryRegistrationStore());
