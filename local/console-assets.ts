import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ConsoleAssets } from '../functions/api';

/**
 * The web console (console/), bundled in memory by esbuild's JS API the first time it is asked
 * for (a few tens of ms), then kept. Everything it needs (Preact, the IPSO names) is inside the
 * bundle: the console works with no internet.
 */
const ROOT = resolve(__dirname, '..');

export interface IpsoNames {
  /** oid -> object name */
  oids: Record<string, string>;
  /** oid -> rid -> resource name, for the resources an object defines itself */
  specific: Record<string, Record<string, string>>;
  /** rid -> resource name, for the resources shared by every object */
  unique: Record<string, string>;
}

/** The IPSO/LWM2M names table of lwm2m-id (the dictionary shared/protocol/ids.ts reads). */
export async function ipsoNames(): Promise<IpsoNames> {
  const text = await readFile(require.resolve('lwm2m-id/defs/defs.json'), 'utf8');
  const defs = JSON.parse(text) as Record<string, unknown>;
  const numbers = (v: unknown): Record<string, number> =>
    Object.fromEntries(
      Object.entries((v ?? {}) as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number'),
    );
  const invert = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [String(v), k]));
  const oidByName = numbers(defs.oid);
  const specific: Record<string, Record<string, string>> = {};
  for (const [name, rids] of Object.entries((defs.specificRid ?? {}) as Record<string, unknown>)) {
    const oid = oidByName[name];
    if (oid !== undefined) specific[String(oid)] = invert(numbers(rids));
  }
  return { oids: invert(oidByName), specific, unique: invert(numbers(defs.uniqueRid)) };
}

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LWMQN console</title>
<link rel="stylesheet" href="/console/app.css">
</head>
<body>
<div id="app"></div>
<script src="/console/app.js"></script>
</body>
</html>
`;

export async function buildConsole(): Promise<ConsoleAssets> {
  const { build, stop } = await import('esbuild');
  const names = await ipsoNames();
  // esbuild serves builds from a child process that lives on; this is the only build, so it ends.
  let js: string;
  try {
    const result = await build({
      entryPoints: [resolve(ROOT, 'console/main.tsx')],
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
      target: 'es2020',
      jsx: 'automatic',
      jsxImportSource: 'preact',
      minify: true,
      legalComments: 'none',
      define: { IPSO_NAMES: JSON.stringify(names) },
      logLevel: 'silent',
    });
    js = result.outputFiles[0].text;
  } finally {
    await stop();
  }
  const css = [
    await readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    await readFile(resolve(ROOT, 'console/style.css'), 'utf8'),
  ].join('\n');
  return { html: HTML, js, css };
}

/** `buildConsole` once: every later call gets the same bundle (a failed build is tried again). */
export function consoleAssets(): () => Promise<ConsoleAssets> {
  let built: Promise<ConsoleAssets> | undefined;
  return () => {
    built ??= buildConsole().catch((err: unknown) => {
      built = undefined;
      throw err;
    });
    return built;
  };
}
