/**
 * Cold-start figures of the Lambda bundles: builds every function entry exactly as the stack
 * does (infra/bundle.ts) into a temporary directory and prints, per bundle, its size and the
 * median time a fresh `node` process takes to `require` it (`--samples` processes each, 9 by
 * default), plain and with `--enable-source-maps` (what NODE_OPTIONS may add). `--why` adds each
 * bundle's largest packages, from esbuild's metafile.
 *
 *   npm run bench:bundles -- [--samples 9] [--why] [--json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSync, type Metafile } from 'esbuild';
import { bundleOptions, FUNCTION_ENTRIES } from '../infra/bundle';
import { median, round } from './stats';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '9' },
    why: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const samples = Number(values.samples);
if (!Number.isSafeInteger(samples) || samples < 1) throw new Error(`--samples: a positive integer, not ${values.samples}`);

/**
 * Milliseconds one fresh process spends in `require(bundle)` (process start-up not counted):
 * wall clock, and CPU time (user + system), which other load on the machine disturbs less.
 */
function requireMs(bundle: string, nodeOptions: string): { wall: number; cpu: number } {
  const script = `const c = process.cpuUsage(); const t = process.hrtime.bigint(); require(${JSON.stringify(bundle)});
    const wall = Number(process.hrtime.bigint() - t) / 1e6; const d = process.cpuUsage(c);
    process.stdout.write(JSON.stringify({ wall, cpu: (d.user + d.system) / 1e3 }));`;
  const out = spawnSync(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, NODE_OPTIONS: nodeOptions, AWS_REGION: 'us-east-1' },
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`require ${bundle} failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as { wall: number; cpu: number };
}

/** Bytes of the bundle by package (`(ours)` for the repository's own files), largest first. */
function byPackage(metafile: Metafile): [string, number][] {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = m ? m[1] : '(ours)';
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes].sort((a, b) => b[1] - a[1]);
}

const dir = mkdtempSync(join(tmpdir(), 'lwmqn-bundles-'));
try {
  const rows = FUNCTION_ENTRIES.map((entry) => {
    const outfile = join(dir, entry.replace(/[/.]/g, '_'), 'index.js');
    const { metafile } = buildSync({ ...bundleOptions(entry, outfile), metafile: true });
    const plain: { wall: number; cpu: number }[] = [];
    const mapped: { wall: number; cpu: number }[] = [];
    // Interleaved, so a burst of load elsewhere on the machine hits both columns alike.
    for (let i = 0; i < samples; i++) {
      plain.push(requireMs(outfile, ''));
      mapped.push(requireMs(outfile, '--enable-source-maps'));
    }
    return {
      entry,
      kB: round(statSync(outfile).size / 1024),
      mapKB: round(statSync(`${outfile}.map`).size / 1024),
      requireMs: round(median(plain.map((s) => s.wall))),
      requireCpuMs: round(median(plain.map((s) => s.cpu))),
      requireWithSourceMapsMs: round(median(mapped.map((s) => s.wall))),
      packages: byPackage(metafile).map(([name, bytes]) => ({ name, kB: round(bytes / 1024) })),
    };
  });
  if (values.json) {
    console.log(JSON.stringify({ node: process.version, samples, bundles: rows }, null, 2));
  } else {
    console.log(`node ${process.version}, median of ${samples} fresh processes per figure\n`);
    console.log('| bundle | size | source map | require | require, CPU time | require, --enable-source-maps |');
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.entry} | ${r.kB} KB | ${r.mapKB} KB | ${r.requireMs} ms | ${r.requireCpuMs} ms | ${r.requireWithSourceMapsMs} ms |`,
      );
    }
    if (values.why) {
      for (const r of rows) {
        const top = r.packages.slice(0, 8).map((p) => `${p.name} ${p.kB} KB`);
        console.log(`\n${r.entry}: ${top.join(', ')}`);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
