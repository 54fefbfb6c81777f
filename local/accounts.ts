import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isValidClientId } from '../shared/protocol/topics';
import { DEFAULT_BRIDGE_ID } from './broker-policy';

/**
 * The accounts of the embedded broker (LWMQN_USERS_FILE, docs/SECURITY.md): one per device
 * (name = its LWMQN clientId) and one per application that may read the events. Passwords are
 * kept as scrypt hashes with a salt of their own; the file is JSON, mode 0600:
 *
 *   {"version":1,"accounts":{"dev-001":{"kind":"device","salt":"<base64>","hash":"<base64>","N":16384,"r":8,"p":1}}}
 */

export type AccountKind = 'device' | 'app';

export interface StoredAccount {
  kind: AccountKind;
  salt: string;
  hash: string;
  N: number;
  r: number;
  p: number;
}

export interface AccountsFile {
  version: 1;
  accounts: Record<string, StoredAccount>;
}

const SCRYPT = { N: 16_384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  // maxmem: N=16384, r=8 needs 16 MiB, node's default cap is 32 MiB; a file may ask for more.
  const maxmem = 256 * options.N! * options.r! + 1024 * 1024;
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LENGTH, { ...options, maxmem }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(kind: AccountKind, password: string): Promise<StoredAccount> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT);
  return { kind, salt: salt.toString('base64'), hash: key.toString('base64'), ...SCRYPT };
}

export async function verifyPassword(account: StoredAccount, password: string): Promise<boolean> {
  const expected = Buffer.from(account.hash, 'base64');
  const key = await scrypt(password, Buffer.from(account.salt, 'base64'), { N: account.N, r: account.r, p: account.p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** 32 characters of [A-Za-z0-9_-] (192 random bits). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Reads and checks the file; every problem is an Error whose message names the file. */
export function readAccountsFile(path: string): AccountsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  let parsed: { version?: unknown; accounts?: unknown } | null;
  try {
    parsed = JSON.parse(text) as { version?: unknown; accounts?: unknown } | null;
  } catch (err) {
    throw new Error(`${path} is not JSON`, { cause: err });
  }
  if (parsed?.version !== 1 || typeof parsed.accounts !== 'object' || parsed.accounts === null) {
    throw new Error(`${path} is not an accounts file (expected {"version":1,"accounts":{...}})`);
  }
  type Entry = { kind?: unknown; salt?: unknown; hash?: unknown; N?: unknown; r?: unknown; p?: unknown } | null;
  for (const [name, a] of Object.entries(parsed.accounts as Record<string, Entry>)) {
    const ok =
      isValidClientId(name) &&
      (a?.kind === 'device' || a?.kind === 'app') &&
      typeof a.salt === 'string' &&
      typeof a.hash === 'string' &&
      [a.N, a.r, a.p].every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n > 0);
    if (!ok) throw new Error(`${path}: account ${JSON.stringify(name)} is malformed`);
  }
  return parsed as unknown as AccountsFile;
}

/**
 * Adds an account or changes its password (an existing account keeps its kind: a device name
 * cannot become an application). The file is written whole to a temporary file, mode 0600, then
 * renamed over the old one, so a broker reading it never sees half a file.
 */
export async function addAccount(
  path: string,
  name: string,
  kind: AccountKind,
  password: string,
  reserved: readonly string[] = [DEFAULT_BRIDGE_ID],
): Promise<'added' | 'changed'> {
  if (!isValidClientId(name)) {
    throw new Error(`${JSON.stringify(name)} is not a valid clientId (1 to 128 characters, no / + # or control characters)`);
  }
  if (reserved.includes(name)) throw new Error(`${name} is reserved for the server's bridge`);
  if (password.length === 0) throw new Error('the password is empty');
  let file: AccountsFile = { version: 1, accounts: {} };
  try {
    statSync(path);
    file = readAccountsFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const existing = file.accounts[name];
  if (existing && existing.kind !== kind) throw new Error(`${name} is already an account of kind ${existing.kind}`);
  file.accounts[name] = await hashPassword(kind, password);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return existing ? 'changed' : 'added';
}

/**
 * The accounts as the broker sees them: the file is read again whenever it changed (size or
 * mtime), so an account added by `lwmqn add-device` works at its next connect, no restart.
 * A file that turns unreadable or malformed after start keeps the last good accounts.
 */
export class AccountBook {
  private accounts: Record<string, StoredAccount>;
  private stamp: string;

  constructor(
    readonly path: string,
    private readonly onReloadError: (err: Error) => void = () => undefined,
  ) {
    this.stamp = this.currentStamp();
    this.accounts = readAccountsFile(path).accounts;
  }

  private currentStamp(): string {
    try {
      const s = statSync(this.path);
      return `${s.size}:${s.mtimeMs}:${s.ino}`;
    } catch {
      return 'missing';
    }
  }

  lookup(name: string): StoredAccount | undefined {
    const stamp = this.currentStamp();
    if (stamp !== this.stamp) {
      this.stamp = stamp;
      try {
        this.accounts = readAccountsFile(this.path).accounts;
      } catch (err) {
        this.onReloadError(err as Error);
      }
    }
    return Object.prototype.hasOwnProperty.call(this.accounts, name) ? this.accounts[name] : undefined;
  }
}
