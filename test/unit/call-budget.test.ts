import fc from 'fast-check';
import { callLimits, MIN_CALL_BUDGET_MS } from '../../shared/call-budget';

describe('callLimits: a budget split into attempts', () => {
  test('the worst case, every attempt timing out and every pause taken, fits the budget', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_CALL_BUDGET_MS, max: 60_000 }), (budget) => {
        const l = callLimits(budget);
        expect(l.maxAttempts * l.attemptTimeoutMs + (l.maxAttempts - 1) * l.pauseMs).toBeLessThanOrEqual(budget);
        expect(l.maxAttempts).toBeGreaterThanOrEqual(1);
        expect(l.connectionTimeoutMs).toBeLessThanOrEqual(l.attemptTimeoutMs);
        // No attempt is cut so short that a healthy call on a cold container could miss it.
        expect(l.attemptTimeoutMs).toBeGreaterThanOrEqual(MIN_CALL_BUDGET_MS);
      }),
    );
  });

  test('every budget the stack sets gets a retry; attempts of about a second or more', () => {
    expect(callLimits(1_500)).toMatchObject({ maxAttempts: 2, attemptTimeoutMs: 725 }); // the API's
    expect(callLimits(3_000)).toMatchObject({ maxAttempts: 2, attemptTimeoutMs: 1_475 }); // a channel's
    expect(callLimits(15_000)).toMatchObject({ maxAttempts: 3, attemptTimeoutMs: 4_966 }); // the reaper's, and locally
    expect(callLimits(850)).toMatchObject({ maxAttempts: 2, attemptTimeoutMs: 400 });
    expect(callLimits(MIN_CALL_BUDGET_MS)).toMatchObject({ maxAttempts: 1 });
  });

  test.each([0, 399, 1.5, Number.NaN])('refuses %p', (budget) => {
    expect(() => callLimits(budget)).toThrow(/call budget/);
  });
});
