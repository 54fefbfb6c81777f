import { TRANS_IDS, withFreeTransIds } from '../shared/protocol/trans-ids';
import type { PendingCommands } from '../shared/store/commands';
import type { CommandAnswer, PendingRequest } from '../shared/store/model';

const keyOf = (clientId: string, cmdId: number, transId: number) => `${cmdId}|${transId}|${clientId}`;

interface Waiting {
  req: PendingRequest;
  finish?: (answer: CommandAnswer | null) => void;
}

/**
 * Pending commands when the API and the bridge share a process (the local stack): the response
 * handler takes the request from here and settles the waiting call directly. No store round
 * trip, no polling; a timer per waiting command bounds the wait. A server that dies forgets
 * them, as the API calls waiting on them die with it.
 */
export class MemoryPendingCommands implements PendingCommands {
  private readonly pending = new Map<string, Waiting>();
  /** Claimed by the response handler, settled once the answer is stored. */
  private readonly answering = new Map<string, (answer: CommandAnswer) => void>();

  open(req: Omit<PendingRequest, 'transId'>): Promise<PendingRequest> {
    return withFreeTransIds(TRANS_IDS.commands, 1, 64, (transId) => {
      const key = keyOf(req.clientId, req.cmdId, transId);
      if (this.pending.has(key)) return undefined;
      const full: PendingRequest = { ...req, transId };
      this.pending.set(key, { req: full });
      return full;
    });
  }

  wait(req: PendingRequest, timeoutMs: number): Promise<CommandAnswer | null> {
    const entry = this.pending.get(keyOf(req.clientId, req.cmdId, req.transId));
    if (!entry) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (answer: CommandAnswer | null) => {
        clearTimeout(timer);
        resolve(answer);
      };
      entry.finish = finish;
    });
  }

  async close(req: PendingRequest): Promise<void> {
    this.pending.delete(keyOf(req.clientId, req.cmdId, req.transId));
  }

  async claim(clientId: string, cmdId: number, transId: number): Promise<PendingRequest | null> {
    const key = keyOf(clientId, cmdId, transId);
    const entry = this.pending.get(key);
    if (!entry?.finish) return null; // not ours, or nobody waits any more
    this.pending.delete(key);
    this.answering.set(key, entry.finish);
    return entry.req;
  }

  settle(req: PendingRequest, answer: CommandAnswer): void {
    const key = keyOf(req.clientId, req.cmdId, req.transId);
    this.answering.get(key)?.(answer);
    this.answering.delete(key);
  }

  get size(): number {
    return this.pending.size + this.answering.size;
  }
}
