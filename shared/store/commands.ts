import type { CommandAnswer, PendingRequest } from './model';

/**
 * Device commands waiting for their answer (shared/ops/commands.ts). Behind Lambda the answer
 * arrives in another invocation: the pending request is a table item the API polls
 * (shared/store/table/commands.ts). In the local stack the API and the bridge share a process,
 * and the answer settles the waiting call directly (local/memory-commands.ts). Both pass
 * test/contract/pending-commands.contract.ts.
 */
export interface PendingCommands {
  /** Records the request under a free server transId, before anything is published. */
  open(req: Omit<PendingRequest, 'transId'>): Promise<PendingRequest>;

  /** The answer, or null when `timeoutMs` passed first. */
  wait(req: PendingRequest, timeoutMs: number): Promise<CommandAnswer | null>;

  /** Forgets a request that timed out. */
  close(req: PendingRequest): Promise<void>;

  /**
   * The response side: takes the pending request this answer is for, once. Null for a request
   * nobody waits for (late, repeated, never sent). Data the store cannot hold is not kept with
   * it; the caller still has the answer as sent.
   */
  claim(clientId: string, cmdId: number, transId: number, answer: CommandAnswer, nowMs: number): Promise<PendingRequest | null>;

  /** The claimed answer has been stored: the waiting call may go on. */
  settle(req: PendingRequest, answer: CommandAnswer): void;
}
