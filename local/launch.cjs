'use strict';
// `npm start`'s entrance: compiles local/start.ts and the TypeScript it imports into one script in
// memory with esbuild (packages stay in node_modules), then runs it as local/start.ts. Nothing is
// written to disk, so it always runs the current source, in a read-only checkout too. Without a
// TypeScript loader in the process the server holds about 20 MiB less under load than under
// `node --require tsx/cjs local/start.ts`, which still works (docs/PERFORMANCE.md, "A lighter start").
const { readFile } = require('node:fs/promises');
const Module = require('node:module');
const { dirname, join } = require('node:path');
const { build, stop } = require('esbuild');

const ROOT = dirname(__dirname);
const ENTRY = join(__dirname, 'start.ts');

// One script for many files: each keeps its own __dirname and __filename (local/embedded-store.ts
// finds local/store-thread.cjs beside itself, local/console-assets.ts the console/ folder).
const ownPaths = {
  name: 'own-paths',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      return {
        loader: 'ts',
        contents: source.replace(/\b__dirname\b/g, JSON.stringify(dirname(path))).replace(/\b__filename\b/g, JSON.stringify(path)),
      };
    });
  },
};

/** `entry` and the TypeScript it imports, as one CommonJS script with an inline source map. */
async function compile(entry) {
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      // Stack traces name the .ts files and their lines: the map's paths are relative to where the
      // script runs from (beside `entry`), and it holds no source text. Error locations are
      // relative to the repository root.
      outfile: join(dirname(entry), 'launched.js'),
      absWorkingDir: ROOT,
      sourcemap: 'inline',
      sourcesContent: false,
      plugins: [ownPaths],
      logLevel: 'silent',
    });
    return result.outputFiles[0].text;
  } finally {
    // The server bundles its web console later with its own build; this one is done.
    await stop();
  }
}

/** Runs `code` as the module `entry` (its requires resolve from there); returns its exports. */
function run(code, entry) {
  process.setSourceMapsEnabled(true);
  const main = new Module(entry, null);
  main.filename = entry;
  main.paths = Module._nodeModulePaths(dirname(entry));
  main._compile(code, entry);
  return main.exports;
}

/** One line for a source that does not compile: esbuild's first error and where it is. */
function compileError(err) {
  const first = err && Array.isArray(err.errors) ? err.errors[0] : undefined;
  if (!first) return `lwmqn: could not compile the server: ${err && err.message}`;
  const where = first.location ? ` (${first.location.file}:${first.location.line})` : '';
  return `lwmqn: could not compile the server: ${first.text}${where}`;
}

/** Compiles and runs local/start.ts: the server (`npm start`, and `lwmqn start`: bin/lwmqn.js). */
function launch() {
  compile(ENTRY).then(
    (code) => run(code, ENTRY),
    (err) => {
      process.stderr.write(`${compileError(err)}\n`);
      process.exit(1);
    },
  );
}

module.exports = { compile, run, compileError, launch };

if (require.main === module) launch();
