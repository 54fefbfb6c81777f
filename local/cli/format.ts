import { statusWords } from '../../shared/protocol/status';

/** Human output of the CLI: aligned tables and short status lines. */
export const statusText = (status: number): string => statusWords(status);

export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

export function keyValues(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  return Object.entries(record)
    .map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`)
    .join('\n');
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '-';
  // JSON from the API: a string as it is; numbers, booleans, objects and arrays as their JSON.
  return typeof v === 'string' ? v : JSON.stringify(v);
}
