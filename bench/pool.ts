/**
 * Pools the registration rounds of several `npm run bench -- --compare --json` outputs:
 * `tsx bench/pool.ts run-1.json run-2.json ...`. One burst of 25 mqtt-node devices moves by up
 * to a fifth from the next (the devices' own work dominates it), so a single run's medians can
 * land either way; the rounds of many runs, paired as they were measured (round k of each server
 * ran back to back), tell whether one server is faster and by how much.
 */
import { readFileSync } from 'node:fs';
import { mean, sd } from './stats';

interface Output {
  results: Array<{ server: string; registrationsPerSecond: number; registrationRounds: number[] }>;
  ceiling?: { registrationsPerSecond: number; registrationRounds: number[] };
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: tsx bench/pool.ts RUN.json...');
  process.exit(2);
}
const fmt = (n: number) => n.toFixed(2);

const byServer = new Map<string, number[]>();
const differences: number[] = [];
let medianWins = 0;
let compared = 0;
for (const file of files) {
  const out = JSON.parse(readFileSync(file, 'utf8')) as Output;
  const series = [
    ...out.results.map((r) => ({ name: r.server, ...r })),
    ...(out.ceiling ? [{ name: 'client ceiling', ...out.ceiling }] : []),
  ];
  for (const s of series) byServer.set(s.name, [...(byServer.get(s.name) ?? []), ...s.registrationRounds]);
  const [ours, reference] = out.results;
  if (!reference) continue;
  compared++;
  if (ours.registrationsPerSecond >= reference.registrationsPerSecond) medianWins++;
  ours.registrationRounds.forEach((rate, k) => {
    if (reference.registrationRounds[k] !== undefined) differences.push(rate - reference.registrationRounds[k]);
  });
}

console.log(`${files.length} runs`);
for (const [name, rates] of byServer) {
  console.log(`${name.padEnd(22)} ${fmt(mean(rates))} registrations/s over ${rates.length} bursts (sd ${fmt(sd(rates))})`);
}
if (compared > 0) {
  const [ours, reference] = [...byServer.keys()];
  const se = sd(differences) / Math.sqrt(differences.length);
  console.log(`${ours} median >= ${reference} median in ${medianWins} of ${compared} runs`);
  console.log(
    `paired difference (${ours} - ${reference}) per round: ${fmt(mean(differences))} ± ${fmt(se)} registrations/s (mean ± standard error, ${differences.length} pairs)`,
  );
}
