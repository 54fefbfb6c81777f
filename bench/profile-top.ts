/** Prints the top self-time functions of a V8 .cpuprofile: `tsx bench/profile-top.ts FILE [N]`. */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
const [file, n = '20'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
const total = profile.samples.length;
const self = new Map<string, number>();
for (const node of profile.nodes) {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/work\/main\//, '');
  const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + (node.hitCount ?? 0));
}
const byPackage = new Map<string, number>();
for (const [key, hits] of self) {
  const m = /\s(@[^/]+\/[^/]+|[^/@(][^/]*)\//.exec(key);
  const pkg = key.includes('(garbage collector)') ? 'gc' : key.includes('(idle)') ? 'idle' : m ? m[1] : 'node/other';
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
}
console.log(`samples: ${total}`);
console.log('top functions by self time:');
for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
  console.log(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
}
console.log('by package:');
for (const [pkg, hits] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
  console.log(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${pkg}`);
}
