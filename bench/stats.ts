import { readFileSync } from 'node:fs';

export const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export function summarize(latencies: number[]): { p50: number; p99: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)) };
}

export const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : round((sorted[mid - 1] + sorted[mid]) / 2);
}

export const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** The sample standard deviation. */
export const sd = (values: number[]): number =>
  Math.sqrt(values.reduce((a, x) => a + (x - mean(values)) ** 2, 0) / Math.max(1, values.length - 1));

/** Resident memory in MiB of a process and its children (our embedded store), from /proc (Linux). */
export function rssMiB(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    const own = line ? Number(line.replace(/\D+/g, '')) / 1024 : NaN;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return Math.round(children.reduce((sum, child) => sum + rssMiB(Number(child)), own));
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds (user + system) used so far, from /proc: by a process's main thread, and by its other
 * threads and its children together (ours: the embedded store thread; V8's helper threads).
 */
export function cpuSeconds(pid: number): { main: number; other: number } {
  const of = (path: number | string): number => {
    try {
      // Fields after the command name (which may hold spaces) start at the state; utime and stime are 14 and 15.
      const fields = readFileSync(`/proc/${path}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      return NaN;
    }
  };
  let children = 0;
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      children += of(Number(child));
    }
  } catch {
    children = NaN;
  }
  const main = of(`${pid}/task/${pid}`);
  return { main, other: of(pid) - main + children };
}

/** Linux reports process times in clock ticks of 1/100 s (USER_HZ) on every architecture Node runs on. */
const CLOCK_TICKS = 100;

/** A one-line progress bar on stderr (people watch stderr; --json output stays clean). */
export class Progress {
  private last = 0;
  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}
  tick(done: number): void {
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    if (!process.stderr.isTTY) return;
    const width = 30;
    const filled = Math.round((done / this.total) * width);
    process.stderr.write(`\r${this.label.padEnd(34)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total}`);
    if (done >= this.total) process.stderr.write('\n');
  }
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }
}
