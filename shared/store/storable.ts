import { firstProblem } from '../protocol/payload';

/**
 * What the table can hold, checked before a write: a value the store would refuse is the
 * device's mistake (a 400 or a registration that fails), while any error the store returns is
 * ours and is retried. DynamoDB keeps numbers of magnitude 1e-130 up to (not including) 1e126,
 * and no attribute name may be empty.
 */
export class RejectedValueError extends Error {
  override name = 'RejectedValueError';
}

const MIN_MAGNITUDE = 1e-130;
const MAX_MAGNITUDE = 1e126;

/** Why `n` is not a number the store holds, or undefined. */
export function numberProblem(n: number): string | undefined {
  const abs = Math.abs(n);
  if (!Number.isFinite(n) || (abs !== 0 && (abs < MIN_MAGNITUDE || abs >= MAX_MAGNITUDE))) return `number ${n} out of range`;
  return undefined;
}

/** Why `value` cannot be stored, or undefined when it can. */
export function storableProblem(value: unknown): string | undefined {
  return firstProblem(value, (node) => (typeof node === 'number' ? numberProblem(node) : undefined));
}

/** Throws RejectedValueError when `value` cannot be stored. */
export function assertStorable(value: unknown): void {
  const problem = storableProblem(value);
  if (problem) throw new RejectedValueError(problem);
}

/** Throws RejectedValueError for an attribute name the store refuses (an empty resource name). */
export function assertStorableName(name: string): void {
  if (name === '') throw new RejectedValueError('empty attribute name');
}
