import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import type { Logger } from '../shared/ports';
import { AccountBook, verifyPassword } from './accounts';
import { clientIdProblem, DEFAULT_BRIDGE_ID, deviceReadable, mayPublish, mayRead, maySubscribe, type Role } from './broker-policy';
import { listen, type Running } from './embedded-store';

export interface EmbeddedBrokerOptions {
  /** MQTT_HOST */
  host: string;
  /** MQTT_PORT; 0 picks a free port */
  port: number;
  /** LWMQN_BRIDGE_ID: the one client id that gets the bridge's rights, with the per-start secret. */
  bridgeId: string;
  /** LWMQN_USERS_FILE: when set, every client logs in with an account of this file. */
  usersFile?: string;
  /** MQTT_TLS_CERT, MQTT_TLS_KEY (PEM file paths), MQTT_TLS_HOST, MQTT_TLS_PORT: a second, TLS listener. */
  tls?: { cert: string; key: string; host: string; port: number };
  log?: Logger;
}

export interface EmbeddedBroker extends Running {
  /** The TLS listener's address, when there is one. */
  tlsUrl?: string;
  /** How the bridge must log in: its client id as username and a secret made at this start. */
  bridgeLogin: { clientId: string; username: string; password: string };
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The embedded broker's settings from the environment (README, "Configuration"); reads no file. */
export function embeddedBrokerSettings(env: NodeJS.ProcessEnv): EmbeddedBrokerOptions {
  const cert = env.MQTT_TLS_CERT || undefined;
  const key = env.MQTT_TLS_KEY || undefined;
  if (!!cert !== !!key) {
    const [set, unset] = cert ? ['MQTT_TLS_CERT', 'MQTT_TLS_KEY'] : ['MQTT_TLS_KEY', 'MQTT_TLS_CERT'];
    throw new Error(`${set} is set but ${unset} is not: set both (PEM files) or neither`);
  }
  return {
    host: env.MQTT_HOST || '127.0.0.1',
    port: portSetting(env, 'MQTT_PORT', 1883),
    bridgeId: env.LWMQN_BRIDGE_ID || DEFAULT_BRIDGE_ID,
    usersFile: env.LWMQN_USERS_FILE || undefined,
    tls:
      cert && key
        ? { cert, key, host: env.MQTT_TLS_HOST || env.MQTT_HOST || '127.0.0.1', port: portSetting(env, 'MQTT_TLS_PORT', 8883) }
        : undefined,
  };
}

function portSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65_535) throw new Error(`${name} must be a port number (0 to 65535), not ${raw}`);
  return n;
}

function readSetting(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/**
 * The embedded broker of `npm start` when MQTT_URL is unset (aedes), confined as Mosquitto is
 * with local/mosquitto/acl (docs/SECURITY.md, "The embedded broker"):
 *
 * - the bridge is the client with id `bridgeId`, username `bridgeId` and the password this
 *   function makes at each start (returned as `bridgeLogin`; no one else knows it);
 * - every other client is a device whose MQTT client id is its LWMQN clientId (an invalid one
 *   is refused at CONNECT); with `usersFile`, it must log in with username = client id and the
 *   account's password, and application accounts (kind "app") may read the events;
 * - a device publishes only on `<channel>/<its id>`; a publish anywhere else closes its
 *   connection (aedes cannot drop a message quietly); it may subscribe to its own answer and
 *   request topics and `announce`, named one by one (any other filter gets SUBACK 0x80), and
 *   every delivery is checked again against the same list.
 *
 * aedes is an ES module: this file is loaded only when it is needed, so the rest of the stack
 * stays loadable everywhere.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = options.log ?? silent;
  // Every setting that cannot work fails here, before anything listens.
  let tlsFiles: { cert: Buffer; key: Buffer } | undefined;
  if (options.tls) {
    tlsFiles = { cert: readSetting('MQTT_TLS_CERT', options.tls.cert), key: readSetting('MQTT_TLS_KEY', options.tls.key) };
    try {
      createSecureContext(tlsFiles);
    } catch (err) {
      throw new Error(
        `MQTT_TLS_CERT, MQTT_TLS_KEY: ${options.tls.cert} and ${options.tls.key} are not a PEM certificate and its private key (${(err as Error).message})`,
        { cause: err },
      );
    }
  }
  let accounts: AccountBook | undefined;
  if (options.usersFile) {
    try {
      accounts = new AccountBook(options.usersFile, (err) =>
        log.error({ err: err.message }, 'LWMQN_USERS_FILE changed and cannot be used: keeping the accounts read before'),
      );
    } catch (err) {
      throw new Error(`LWMQN_USERS_FILE: ${(err as Error).message}`, { cause: err });
    }
  }

  const secret = randomBytes(24).toString('base64url');
  const bridgeLogin = { clientId: options.bridgeId, username: options.bridgeId, password: secret };
  const isSecret = (password: Buffer | undefined) => {
    const want = Buffer.from(secret);
    return password !== undefined && password.length === want.length && timingSafeEqual(password, want);
  };

  /** The client id each connection sent (aedes names a client that sent none `aedes_<uuid>`). */
  const sentIds = new WeakMap<Client, string>();
  const roles = new WeakMap<Client, { role: Role; readable?: Set<string> }>();

  const broker = await Aedes.createBroker({
    preConnect: (client, packet, callback) => {
      sentIds.set(client, packet.clientId);
      callback(null, true);
    },
    authenticate: (client, username, password, done) => {
      const id = sentIds.get(client);
      const refuse = (returnCode: number, why: string) => {
        log.warn({ clientId: id, username, why }, 'embedded broker refused a connection');
        done(Object.assign(new Error(why), { returnCode }), false);
      };
      const accept = (role: Role) => {
        roles.set(client, { role, readable: role.kind === 'device' ? deviceReadable(role.id) : undefined });
        done(null, true);
      };
      if (id === options.bridgeId) {
        if (username === options.bridgeId && isSecret(password)) return accept({ kind: 'bridge' });
        return refuse(5, "the bridge's client id without the bridge's secret");
      }
      const problem = clientIdProblem(id);
      if (problem) return refuse(2, problem);
      if (!accounts) return accept({ kind: 'device', id: id! });
      if (username === undefined || password === undefined) return refuse(4, 'no username or password (LWMQN_USERS_FILE is set)');
      if (username !== id) return refuse(2, 'the client id must be the username');
      const account = accounts.lookup(username);
      if (!account) return refuse(4, 'no such account');
      verifyPassword(account, password.toString('utf8'))
        .then((ok) => (ok ? accept({ kind: account.kind, id: id }) : refuse(4, 'wrong password')))
        .catch((err: Error) => refuse(3, `password check failed: ${err.message}`));
    },
    authorizePublish: (client, packet, callback) => {
      const role = client ? roles.get(client)?.role : undefined;
      if (role && mayPublish(role, packet.topic)) return callback(null);
      log.warn({ clientId: client?.id, topic: packet.topic }, 'embedded broker: publish not allowed, connection closed');
      callback(new Error(`not allowed to publish on ${packet.topic}`));
    },
    authorizeSubscribe: (client, subscription, callback) => {
      const role = roles.get(client)?.role;
      if (role && maySubscribe(role, subscription.topic)) return callback(null, subscription);
      log.warn({ clientId: client.id, filter: subscription.topic }, 'embedded broker: subscription refused');
      callback(null, null);
    },
    authorizeForward: (client, packet) => {
      const entry = roles.get(client);
      return entry && mayRead(entry.role, packet.topic, entry.readable) ? packet : null;
    },
  });

  const servers: Server[] = [];
  const close = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  const shown = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host);
  try {
    const server = createServer(broker.handle);
    servers.push(server);
    await listen(server, options.host, options.port);
    const url = `mqtt://${shown(options.host)}:${(server.address() as AddressInfo).port}`;
    let tlsUrl: string | undefined;
    if (options.tls && tlsFiles) {
      const tls = createTlsServer(tlsFiles, broker.handle);
      servers.push(tls);
      await listen(tls, options.tls.host, options.tls.port);
      tlsUrl = `mqtts://${shown(options.tls.host)}:${(tls.address() as AddressInfo).port}`;
      log.info({ tlsUrl }, 'embedded MQTT broker: TLS listener');
    }
    const exposed = [options.host, options.tls?.host].filter((h): h is string => !!h && !LOOPBACK.test(h));
    if (!accounts && exposed.length > 0) {
      log.warn(
        { hosts: exposed },
        "embedded broker reachable from the network without accounts: any client can claim any device's clientId; set LWMQN_USERS_FILE (docs/SECURITY.md)",
      );
    }
    return { url, tlsUrl, bridgeLogin, close };
  } catch (err) {
    await close();
    throw err;
  }
}
