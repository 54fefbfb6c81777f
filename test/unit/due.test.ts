import { dueDelay, MAX_DUE_DELAY_S, maxDueDelay } from '../../shared/store/due';

const ids = Array.from({ length: 30_000 }, (_, i) => `node-${i}`);

test('the delay is never negative, never past a tenth of the lifetime, never past 15 minutes; none under 10 s', () => {
  for (const lifetime of [1, 9, 10, 60, 600, 3_600, 9_000, 86_400, 10 * 365 * 86_400]) {
    const bound = Math.min(Math.floor(lifetime / 10), MAX_DUE_DELAY_S);
    expect(maxDueDelay(lifetime)).toBe(bound);
    for (const id of ids.slice(0, 2_000)) {
      const d = dueDelay(id, lifetime);
      expect(Number.isInteger(d) && d >= 0 && d <= bound).toBe(true);
    }
  }
  expect(new Set(ids.map((id) => dueDelay(id, 9)))).toEqual(new Set([0]));
});

test('a fleet of sequential clientIds is spread evenly over the whole window, each device always at the same place', () => {
  // 15 one-minute buckets of a one-day lifetime: each holds a fifteenth, give or take 5 %.
  const buckets = new Array<number>(15).fill(0);
  for (const id of ids) buckets[Math.min(14, Math.floor(dueDelay(id, 86_400) / 60))]++;
  for (const count of buckets) expect(Math.abs(count - ids.length / 15) / (ids.length / 15)).toBeLessThan(0.05);
  // Neighbours do not bunch: node-1..node-9 land in more than 5 different minutes.
  expect(new Set(ids.slice(1, 10).map((id) => Math.floor(dueDelay(id, 86_400) / 60))).size).toBeGreaterThan(5);
  expect(ids.slice(0, 100).map((id) => dueDelay(id, 86_400))).toEqual(ids.slice(0, 100).map((id) => dueDelay(id, 86_400)));
});
