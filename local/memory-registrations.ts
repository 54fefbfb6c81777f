import type { RegistrationStore } from '../shared/store/registrations';
import { toSeconds, type CommandAnswer, type PendingRegistration } from '../shared/store/model';
import { assertStorable } from '../shared/store/storable';

const copy = (r: PendingRegistration): PendingRegistration => ({ ...r, answers: { ...r.answers } });

/**
 * Registrations in progress kept in memory: the bridge that publishes the reads receives every
 * answer, so a 4-object registration costs 2 store calls (the device check and the device
 * write) instead of 8. The price: a server that dies mid-way forgets the registrations it was
 * running, and those devices get no answer and register again, as they would after any lost
 * answer. The same trade the local pending commands make (local/memory-commands.ts).
 */
export class MemoryRegistrationStore implements RegistrationStore {
  private readonly running = new Map<string, PendingRegistration>();

  /**
   * @param graceUntilMs no running registration times out before this moment (epoch ms): the
   * local stack holds them while its bridge is behind, as their answers may wait behind it.
   */
  constructor(private readonly graceUntilMs: () => number = () => 0) {}

  /** The second after which `r` has timed out. */
  private deadline(r: PendingRegistration): number {
    return Math.max(r.expiresAt, Math.ceil(this.graceUntilMs() / 1000));
  }

  async start(r: PendingRegistration, nowMs: number): Promise<{ replaced?: PendingRegistration } | 'running'> {
    const current = this.running.get(r.clientId);
    if (
      current &&
      current.regId !== r.regId &&
      this.deadline(current) >= toSeconds(nowMs) &&
      current.clientTransId === r.clientTransId &&
      current.purpose === r.purpose
    ) {
      return 'running';
    }
    this.running.set(r.clientId, copy(r));
    return { replaced: current };
  }

  async get(clientId: string, nowMs: number): Promise<PendingRegistration | null> {
    const r = this.running.get(clientId);
    return r && this.deadline(r) >= toSeconds(nowMs) ? copy(r) : null;
  }

  async recordAnswer(clientId: string, transId: number, answer: CommandAnswer, nowMs: number): Promise<PendingRegistration | null> {
    // What the table refuses is refused here too: the registration then fails the same way.
    assertStorable(answer);
    const r = this.running.get(clientId);
    const t = String(transId);
    if (!r || !(t in r.reads) || t in r.answers || this.deadline(r) < toSeconds(nowMs)) return null;
    r.answers[t] = answer;
    r.remaining -= 1;
    return copy(r);
  }

  async claim(clientId: string, regId: string): Promise<PendingRegistration | null> {
    const r = this.running.get(clientId);
    if (!r || r.regId !== regId) return null;
    this.running.delete(clientId);
    return r;
  }

  async *overdue(nowMs: number, pageSize: number): AsyncIterable<Array<{ clientId: string; regId: string }>> {
    const now = toSeconds(nowMs);
    const due = [...this.running.values()]
      .filter((r) => this.deadline(r) < now)
      .map((r) => ({ clientId: r.clientId, regId: r.regId }));
    for (let i = 0; i < due.length; i += pageSize) yield due.slice(i, i + pageSize);
  }

  get size(): number {
    return this.running.size;
  }
}
