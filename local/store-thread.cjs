'use strict';
// The embedded store (dynalite over LevelDB) in a worker thread of the server process: its work
// runs on another core than the server's main thread, as DynamoDB runs elsewhere in the cloud,
// without the memory of a second Node process (docs/PERFORMANCE.md, "Memory"). Started by
// local/embedded-store.ts, which passes its settings as workerData; it ends with the process,
// or when the server posts 'close' after everything else has finished. Signals reach the main
// thread only: a Ctrl-C cannot end the store under the server's in-flight writes.
const { readlinkSync, mkdirSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { Level } = require('level');
const dynalite = require('dynalite');
const { warmUp } = require('./store-warmup.cjs');
const { applyStorePatches } = require('./store-patches.cjs');

// Before any dynalite store exists (the warm-up's included): local/store-patches.cjs.
applyStorePatches();

async function waitForLock(path) {
  // The store of a killed server may still hold the LevelDB lock for a moment.
  for (let attempt = 0; ; attempt++) {
    const probe = new Level(path);
    try {
      await probe.open();
      await probe.close();
      return;
    } catch (err) {
      if (attempt >= 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** This thread's id in /proc (Linux), so that a benchmark can tell its CPU from the main thread's. */
function osThreadId() {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}

async function main() {
  const { path, port, warmupRequests, warmupTable } = workerData;
  mkdirSync(path, { recursive: true });
  await waitForLock(path);
  if (warmupRequests > 0) {
    const started = Date.now();
    try {
      await warmUp(dynalite, warmupRequests, warmupTable);
    } catch (err) {
      // Only a head start: the store serves without it.
      process.stderr.write(`lwmqn store: warm-up skipped: ${err && err.message}\n`);
    }
    process.stderr.write(`lwmqn store: warmed up with ${warmupRequests} requests in ${Date.now() - started} ms\n`);
  }
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  server.listen(port, '127.0.0.1', () => {
    parentPort.postMessage({ port: server.address().port, osThreadId: osThreadId() });
  });
  // Every answer was sent after its write landed in LevelDB: nothing is pending here. Ending the
  // thread closes LevelDB (classic-level closes its databases when their thread ends).
  parentPort.on('message', (message) => {
    if (message === 'close') process.exit(0);
  });
}

main().catch((err) => {
  process.stderr.write(`lwmqn store: ${err && err.message}\n`);
  process.exit(1);
});
