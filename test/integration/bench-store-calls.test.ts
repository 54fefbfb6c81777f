import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * docs/PERFORMANCE.md's "The SDK's own work per call" quotes `npx tsx bench/store-calls.ts`:
 * it runs here (fewer calls), and its three ways are each measured and in the order claimed.
 */
test('bench/store-calls.ts measures the three client set-ups, each round', () => {
  const out = execFileSync('npx', ['tsx', 'bench/store-calls.ts', '--calls', '2000'], {
    cwd: join(__dirname, '../..'),
    encoding: 'utf8',
  });
  const rows = out
    .split('\n')
    .map((line) => /^((?:\s+\d+){3})\s\s(.+)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ way: m[2], figures: m[1].trim().split(/\s+/).map(Number) }));
  expect(rows.map((r) => r.way)).toEqual([
    "lib-dynamodb's DynamoDBDocumentClient (until 2026-12-05)",
    'DocumentClient, middleware cached, not trimmed (as for DynamoDB)',
    'DocumentClient, middleware cached and trimmed (the embedded store)',
  ]);
  for (const { figures } of rows) {
    expect(figures).toHaveLength(3);
    for (const f of figures) expect(f).toBeGreaterThan(0);
  }
});
