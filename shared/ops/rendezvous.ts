import { randomInt } from 'node:crypto';
import type { Deps } from '../deps';
import type { Clock } from '../ports';
import type { PendingRequest } from '../store/model';
import type { RegistryStore } from '../store/registry';
import type { CommandAnswer, CommandRendezvous, CommandWaiters } from './commands';
import { allocateRequest, TRANS_IDS } from './requests';

const keyOf = (clientId: string, cmdId: number, transId: number) => `${cmdId}|${transId}|${clientId}`;

interface Waiting {
  req: PendingRequest;
  finish?: (answer: CommandAnswer | null) => void;
}

/**
 * The rendezvous when the API and the bridge share a process (the local stack): a command's
 * pending state lives here, the response handler takes it and settles the waiter directly. No
 * store round trip, no polling; a timer per waiting command bounds the wait.
 */
export class MemoryRendezvous implements CommandRendezvous, CommandWaiters {
  private readonly pending = new Map<string, Waiting>();

  async open(_deps: Deps, req: Omit<PendingRequest, 'transId'>): Promise<PendingRequest> {
    const { from, to } = TRANS_IDS.command;
    for (let attempt = 0; attempt < 64; attempt++) {
      const full: PendingRequest = { ...req, transId: randomInt(from, to) };
      const key = keyOf(full.clientId, full.cmdId, full.transId);
      if (this.pending.has(key)) continue;
      this.pending.set(key, { req: full });
      return full;
    }
    throw new Error(`no free transId for ${req.clientId}`);
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

  async close(_deps: Deps, req: PendingRequest): Promise<void> {
    this.pending.delete(keyOf(req.clientId, req.cmdId, req.transId));
  }

  take(clientId: string, cmdId: number, transId: number): PendingRequest | undefined {
    const key = keyOf(clientId, cmdId, transId);
    const entry = this.pending.get(key);
    if (!entry?.finish) return undefined; // not ours, or nobody waits any more
    this.pending.delete(key);
    this.answering.set(key, entry.finish);
    return entry.req;
  }

  settle(req: PendingRequest, answer: CommandAnswer): void {
    const key = keyOf(req.clientId, req.cmdId, req.transId);
    this.answering.get(key)?.(answer);
    this.answering.delete(key);
  }

  /** Taken by the response handler, settled once the answer is stored. */
  private readonly answering = new Map<string, (answer: CommandAnswer) => void>();

  get size(): number {
    return this.pending.size + this.answering.size;
  }
}

/**
 * The rendezvous behind Lambda, where the response arrives in another invocation: the pending
 * request is an item in the table, the response handler records the answer on it and the API
 * reads it, with backoff, bounded by the request timeout (DESIGN.md allows this poll, and only here).
 */
export class TableRendezvous implements CommandRendezvous {
  constructor(
    private readonly store: RegistryStore,
    private readonly clock: Clock,
    private readonly firstDelayMs = 25,
    private readonly maxDelayMs = 250,
  ) {}

  open(deps: Deps, req: Omit<PendingRequest, 'transId'>): Promise<PendingRequest> {
    return allocateRequest(deps, req, TRANS_IDS.command);
  }

  async wait(req: PendingRequest, timeoutMs: number): Promise<CommandAnswer | null> {
    const deadline = this.clock.now() + timeoutMs;
    let delay = this.firstDelayMs;
    while (this.clock.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - this.clock.now()))));
      const current = await this.store.getRequest(req.clientId, req.cmdId, req.transId);
      if (current?.answer) return current.answer;
      delay = Math.min(this.maxDelayMs, delay * 2);
    }
    return null;
  }

  async close(deps: Deps, req: PendingRequest): Promise<void> {
    await deps.store.deleteRequest(req.clientId, req.cmdId, req.transId);
  }
}
