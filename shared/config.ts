/** Server settings shared by both runtimes, read from the environment (README.md, "Configuration"). */
export interface ServerConfig {
  /** How long the server waits for a device's answer before it reports 408 (or fails a registration). */
  requestTimeoutMs: number;
  /** `permit`: unknown clients may register only inside a permit-join window. */
  join: 'open' | 'permit';
  /** Lifetime in seconds when a register carries none (docs/PROTOCOL.md, "Lifetime and expiry"). */
  defaultLifetime: number;
}

export function configFromEnv(env: NodeJS.ProcessEnv): ServerConfig {
  const join = env.LWMQN_JOIN ?? 'open';
  if (join !== 'open' && join !== 'permit') throw new Error(`LWMQN_JOIN must be open or permit, not ${join}`);
  return {
    requestTimeoutMs: positiveInt(env, 'LWMQN_REQUEST_TIMEOUT_MS', 10_000),
    join,
    defaultLifetime: positiveInt(env, 'LWMQN_DEFAULT_LIFETIME', 86_400),
  };
}

export function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, not ${raw}`);
  return n;
}
