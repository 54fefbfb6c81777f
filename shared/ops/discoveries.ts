import type { Deps } from '../deps';
import { toSeconds, type Discovery } from '../store/model';

/**
 * Where registrations in progress (their object reads and answers) are kept. Behind Lambda it
 * is the table (the registry store implements this); in the local stack, where the bridge
 * that publishes the reads also receives every answer, it is this process's memory.
 */
export interface DiscoveryStore {
  /** Replaces any earlier discovery of the client, unless this very message's one still runs. */
  putDiscovery(d: Discovery, nowMs: number): Promise<{ replaced?: Discovery } | 'running'>;
  getDiscovery(clientId: string, nowMs: number): Promise<Discovery | null>;
  /** Records one read's answer once; the discovery as it is now, or null if none waits for it. */
  recordDiscoveryAnswer(clientId: string, transId: number, answer: { status: number; data?: unknown }, nowMs: number): Promise<Discovery | null>;
  /** Takes the discovery out; only the caller that gets it back may finish or fail it. */
  claimDiscovery(clientId: string, regId: string): Promise<Discovery | null>;
  overdueDiscoveries(nowMs: number): Promise<Array<{ clientId: string; regId: string }>>;
}

export const discoveriesOf = (deps: Deps): DiscoveryStore => deps.discoveries ?? deps.store;

const copy = (d: Discovery): Discovery => ({ ...d, answers: { ...d.answers } });

/**
 * Registrations in progress kept in memory: a 4-object registration costs 2 store calls (the
 * device check and the device write) instead of 8. The price: a server that dies mid-way
 * forgets the registrations it was running, and those devices get no answer and register
 * again, as they would after any lost answer. The same trade the local command rendezvous makes.
 */
export class MemoryDiscoveries implements DiscoveryStore {
  private readonly running = new Map<string, Discovery>();

  /**
   * @param graceUntilMs no running discovery times out before this moment (epoch ms): the local
   * stack holds them while its bridge is behind, as their answers may be waiting behind it.
   */
  constructor(private readonly graceUntilMs: () => number = () => 0) {}

  /** The second after which `d` has timed out. */
  private deadline(d: Discovery): number {
    return Math.max(d.expiresAt, Math.ceil(this.graceUntilMs() / 1000));
  }

  async putDiscovery(d: Discovery, nowMs: number): Promise<{ replaced?: Discovery } | 'running'> {
    const current = this.running.get(d.clientId);
    if (
      current &&
      this.deadline(current) >= toSeconds(nowMs) &&
      current.clientTransId === d.clientTransId &&
      current.purpose === d.purpose
    ) {
      return 'running';
    }
    this.running.set(d.clientId, copy(d));
    return { replaced: current };
  }

  async getDiscovery(clientId: string, nowMs: number): Promise<Discovery | null> {
    const d = this.running.get(clientId);
    return d && this.deadline(d) >= toSeconds(nowMs) ? copy(d) : null;
  }

  async recordDiscoveryAnswer(
    clientId: string,
    transId: number,
    answer: { status: number; data?: unknown },
    nowMs: number,
  ): Promise<Discovery | null> {
    const d = this.running.get(clientId);
    const t = String(transId);
    if (!d || !(t in d.reads) || t in d.answers || this.deadline(d) < toSeconds(nowMs)) return null;
    d.answers[t] = answer;
    d.remaining -= 1;
    return copy(d);
  }

  async claimDiscovery(clientId: string, regId: string): Promise<Discovery | null> {
    const d = this.running.get(clientId);
    if (!d || d.regId !== regId) return null;
    this.running.delete(clientId);
    return d;
  }

  async overdueDiscoveries(nowMs: number): Promise<Array<{ clientId: string; regId: string }>> {
    const now = toSeconds(nowMs);
    return [...this.running.values()].filter((d) => this.deadline(d) < now).map((d) => ({ clientId: d.clientId, regId: d.regId }));
  }

  get size(): number {
    return this.running.size;
  }
}
