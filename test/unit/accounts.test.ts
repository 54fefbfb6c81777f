import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountBook, addAccount, readAccountsFile, verifyPassword } from '../../local/accounts';

/** The embedded broker's accounts file (local/accounts.ts). */

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lwmqn-accounts-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('an account is a salted scrypt hash, checked against the right password only; the file is 0600', async () => {
  const file = join(dir, 'users.json');
  expect(await addAccount(file, 'dev-1', 'device', 'secret-one')).toBe('added');
  expect(await addAccount(file, 'dev-2', 'device', 'secret-one')).toBe('added');
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const { accounts } = readAccountsFile(file);
  expect(readFileSync(file, 'utf8')).not.toContain('secret-one');
  expect(accounts['dev-1'].hash).not.toBe(accounts['dev-2'].hash); // salts differ
  expect(await verifyPassword(accounts['dev-1'], 'secret-one')).toBe(true);
  expect(await verifyPassword(accounts['dev-1'], 'secret-two')).toBe(false);
  expect(await verifyPassword(accounts['dev-1'], '')).toBe(false);

  expect(await addAccount(file, 'dev-1', 'device', 'secret-two')).toBe('changed');
  expect(await verifyPassword(readAccountsFile(file).accounts['dev-1'], 'secret-two')).toBe(true);
});

test('invalid names, the bridge, empty passwords and a change of kind are refused, the file untouched', async () => {
  const file = join(dir, 'users.json');
  await addAccount(file, 'dev-1', 'device', 'pw');
  const before = readFileSync(file, 'utf8');
  await expect(addAccount(file, 'a/b', 'device', 'pw')).rejects.toThrow(/not a valid clientId/);
  await expect(addAccount(file, '', 'device', 'pw')).rejects.toThrow(/not a valid clientId/);
  await expect(addAccount(file, 'lwmqn-bridge', 'device', 'pw')).rejects.toThrow(/reserved/);
  await expect(addAccount(file, 'my-bridge', 'app', 'pw', ['my-bridge'])).rejects.toThrow(/reserved/);
  await expect(addAccount(file, 'dev-2', 'device', '')).rejects.toThrow(/empty/);
  await expect(addAccount(file, 'dev-1', 'app', 'pw')).rejects.toThrow(/already an account of kind device/);
  expect(readFileSync(file, 'utf8')).toBe(before);
});

test('the broker sees a changed file at the next lookup, and keeps the last good accounts when it breaks', async () => {
  const file = join(dir, 'users.json');
  await addAccount(file, 'dev-1', 'device', 'pw');
  const problems: string[] = [];
  const book = new AccountBook(file, (err) => problems.push(err.message));
  expect(book.lookup('dev-2')).toBeUndefined();
  await addAccount(file, 'dev-2', 'device', 'pw');
  expect(book.lookup('dev-2')?.kind).toBe('device');
  expect(book.lookup('__proto__')).toBeUndefined();
  writeFileSync(file, '{"version":1,"accounts":{"dev-3":{"kind":"root"}}}');
  expect(book.lookup('dev-2')?.kind).toBe('device');
  expect(problems).toEqual([expect.stringMatching(/account "dev-3" is malformed/)]);
  expect(() => new AccountBook(file)).toThrow(/malformed/);
});
