/**
 * Polling with a deadline instead of fixed sleeps: `probe` runs until it returns without
 * throwing (jest `expect`s inside it are the usual condition), and the last failure is
 * rethrown when the deadline passes.
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const interval = opts.intervalMs ?? 50;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
