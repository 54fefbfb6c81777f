import type { Clock } from '../ports';
import type { PendingRequest } from '../store/model';
import type { RegistryStore } from '../store/registry';
import type { CommandAnswer, CommandRendezvous, CommandWaiters } from './commands';

const keyOf = (r: Pick<PendingRequest, 'clientId' | 'cmdId' | 'transId'>) => `${r.cmdId}|${r.transId}|${r.clientId}`;

/**
 * The rendezvous when the API and the bridge share a process: the response handler settles
 * the waiter directly. No polling; a timer per waiting command bounds the wait.
 */
export class MemoryRendezvous implements CommandRendezvous, CommandWaiters {
  private readonly waiting = new Map<string, (answer: CommandAnswer | null) => void>();

  expect(req: PendingRequest, timeoutMs: number): Promise<CommandAnswer | null> {
    const key = keyOf(req);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (answer: CommandAnswer | null) => {
        clearTimeout(timer);
        if (this.waiting.get(key) === finish) this.waiting.delete(key);
        resolve(answer);
      };
      this.waiting.set(key, finish);
    });
  }

  settle(req: PendingRequest, answer: CommandAnswer): void {
    this.waiting.get(keyOf(req))?.(answer);
  }

  get size(): number {
    return this.waiting.size;
  }
}

/**
 * The rendezvous behind Lambda, where the response arrives in another invocation: the response
 * handler records the answer on the pending request and the API reads it, with backoff,
 * bounded by the request timeout (DESIGN.md allows this poll, and only here).
 */
export class TableRendezvous implements CommandRendezvous {
  constructor(
    private readonly store: RegistryStore,
    private readonly clock: Clock,
    private readonly firstDelayMs = 25,
    private readonly maxDelayMs = 250,
  ) {}

  async expect(req: PendingRequest, timeoutMs: number): Promise<CommandAnswer | null> {
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
}
