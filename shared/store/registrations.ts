import type { CommandAnswer, PendingRegistration } from './model';

/**
 * Registrations in progress: a register, re-register or objList update waiting for the device
 * to answer the object reads (shared/ops/registration.ts). Behind Lambda the answers arrive in
 * other invocations, so they are items in the table (shared/store/table/registrations.ts); the
 * local stack's bridge publishes the reads and receives every answer, so it keeps them in
 * memory (local/memory-registrations.ts). Both pass test/contract/registration-store.contract.ts.
 */
export interface RegistrationStore {
  /**
   * Records a registration, replacing any earlier one of the client (late answers to that one
   * are then dropped), unless this very message's one (same client transId and purpose) is
   * still running: 'running' says it is a redelivery.
   */
  start(r: PendingRegistration, nowMs: number): Promise<{ replaced?: PendingRegistration } | 'running'>;

  get(clientId: string, nowMs: number): Promise<PendingRegistration | null>;

  /**
   * Records one read's answer, once: the registration as it is now, or null when none waits for
   * that transId. Throws RejectedValueError for data the store cannot hold.
   */
  recordAnswer(clientId: string, transId: number, answer: CommandAnswer, nowMs: number): Promise<PendingRegistration | null>;

  /** Takes the registration out; only the caller that gets it back may complete or fail it. */
  claim(clientId: string, regId: string): Promise<PendingRegistration | null>;

  /**
   * Registrations whose reads were not all answered in time, in pages of at most `pageSize`,
   * read only as far as the caller iterates (a failed one is taken out, so the next call goes on).
   */
  overdue(nowMs: number, pageSize: number): AsyncIterable<Array<{ clientId: string; regId: string }>>;
}
