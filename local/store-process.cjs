'use strict';
// The embedded store (dynalite over LevelDB) in a process of its own, so its work runs on
// another core than the server's, as DynamoDB runs elsewhere in the cloud. Started by
// local/embedded-store.ts with an IPC channel; it reports its port and exits when the parent
// goes away, even if the parent was killed.
const { mkdirSync } = require('node:fs');
const { Level } = require('level');
const dynalite = require('dynalite');
const { warmUp } = require('./store-warmup.cjs');
const { applyStorePatches } = require('./store-patches.cjs');

// Before any dynalite store exists (the warm-up's included): local/store-patches.cjs.
applyStorePatches();

async function waitForLock(path) {
  // A store process of a killed server may still hold the LevelDB lock for a moment.
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

async function main() {
  // Ctrl-C, and a supervisor's SIGTERM to the whole process group (systemd's default), reach
  // this process too: the server still finishes its in-flight writes, its reaper run and its
  // warm-up here, and only then ends this process by closing the IPC channel (or by going away).
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  const path = process.env.LWMQN_STORE_PATH;
  mkdirSync(path, { recursive: true });
  await waitForLock(path);
  // Checked by the server before it started this process (local/stack.ts, warmupSetting).
  const warmupRequests = Number(process.env.LWMQN_STORE_WARMUP);
  if (warmupRequests > 0) {
    const started = Date.now();
    try {
      await warmUp(dynalite, warmupRequests, JSON.parse(process.env.LWMQN_STORE_WARMUP_TABLE));
    } catch (err) {
      // Only a head start: the store serves without it.
      process.stderr.write(`lwmqn store: warm-up skipped: ${err && err.message}\n`);
    }
    process.stderr.write(`lwmqn store: warmed up with ${warmupRequests} requests in ${Date.now() - started} ms\n`);
  }
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  server.listen(0, '127.0.0.1', () => {
    process.send({ port: server.address().port });
  });
  // Every answer was sent after its write landed in LevelDB: nothing is pending here.
  process.on('disconnect', () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`lwmqn store: ${err && err.message}\n`);
  process.exit(1);
});
