'use strict';
// The embedded store (dynalite over LevelDB) in a worker thread of the server: its work runs on
// another core than the server's main thread, as DynamoDB runs elsewhere in the cloud, without a
// second Node process (whose own binary pages and runtime cost about 40 MiB: docs/PERFORMANCE.md,
// "The store in a thread"). Started by local/embedded-store.ts, which it tells its port; it ends
// with the server's process, and when the server terminates it (LevelDB is closed then).
const { EventEmitter } = require('node:events');
const { mkdirSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { Level } = require('level');
const dynalite = require('dynalite');
const { warmUp } = require('./store-warmup.cjs');
const { applyStorePatches } = require('./store-patches.cjs');

// Before any dynalite store exists (the warm-up's included): local/store-patches.cjs.
applyStorePatches();

/** Fails at start, not at the first request, when another server holds this store's LevelDB. */
async function waitForLock(path) {
  // A killed server's process may hold the lock for a moment after the kill returned.
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

/**
 * Serves the server's requests that come over `channel` (local/store-channel.ts) with dynalite's
 * own HTTP request handler: a request object that emits the body, an answer object that collects
 * the status, the headers and the body it ends with (all that handler uses of either).
 */
function serveChannel(channel, handler) {
  channel.on('message', (request) => {
    const req = new EventEmitter();
    req.method = request.method;
    req.url = request.path;
    req.headers = request.headers;
    const headers = {};
    const res = {
      statusCode: 200,
      setHeader(name, value) {
        headers[name.toLowerCase()] = String(value);
      },
      end(body) {
        channel.postMessage({ id: request.id, status: res.statusCode, headers, body: body === undefined ? '' : String(body) });
      },
    };
    handler(req, res);
    // One chunk: the handler reads it as `body.toString()` (a string's is itself).
    if (request.body) req.emit('data', request.body);
    req.emit('end');
  });
}

async function main() {
  const { path, warmupRequests, warmupTable, channel } = workerData;
  mkdirSync(path, { recursive: true });
  await waitForLock(path);
  // Checked by the server before it started this thread (local/stack.ts, warmupSetting).
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
  serveChannel(channel, server.listeners('request')[0]);
  // The HTTP port stays open too: any DynamoDB client (the AWS CLI, a test) can look at the store.
  server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
}

main().catch((err) => parentPort.postMessage({ error: `lwmqn store: ${err && err.message}` }));
