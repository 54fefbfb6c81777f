import type { Deps } from '../deps';
import type { PendingRequest } from '../store/model';

export interface CommandAnswer {
  status: number;
  data?: unknown;
}

/**
 * The in-process half of the command rendezvous: when the API runs in the same process as the
 * bridge, the response handler settles the waiting caller directly instead of it polling.
 */
export interface CommandWaiters {
  settle(req: PendingRequest, answer: CommandAnswer): void;
}

/** A device's answer to a command the management API sent. */
export async function onCommandAnswer(deps: Deps, req: PendingRequest, answer: CommandAnswer): Promise<void> {
  deps.waiters?.settle(req, answer);
}
