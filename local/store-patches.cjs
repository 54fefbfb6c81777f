'use strict';
// Three changes to the embedded store's own work per request, none to what it answers. dynalite
// is pinned (package.json, 4.0.0): each patch relies on that version's module layout, checks it,
// and steps aside if it differs. Applied by local/store-thread.cjs (the store of `npm start`)
// and by local/embedded-store.ts's in-process store, so every test against dynalite runs them;
// test/contract/devices.test.ts checks the patched store against the device writes' own
// definition over hundreds of random writes. Measured together in docs/PERFORMANCE.md.
const dynaliteDb = require('dynalite/db');
const updateParser = require('dynalite/db/updateParser');
const conditionParser = require('dynalite/db/conditionParser');
const { isDeepStrictEqual } = require('node:util');

let applied = false;

function applyStorePatches() {
  if (applied) return;
  applied = true;
  const create = dynaliteDb.create;
  dynaliteDb.create = function createPatchedStore(options) {
    const store = create(options);
    cacheActiveTables(store);
    keepItemsAndBatchWrites(store);
    return store;
  };
  skipUnchangedIndexEntries();
  cacheParsedExpressions(updateParser, 'update');
  cacheParsedExpressions(conditionParser, 'condition');
}

/**
 * dynalite reads the table's description from LevelDB (and parses its JSON) on every request:
 * one more LevelDB round trip per item call. The store's only user is this server and every
 * change of a description goes through `tableDb`, so an ACTIVE table's description is kept
 * until the next such change.
 */
function cacheActiveTables(store) {
  const { getTable, tableDb } = store;
  if (typeof getTable !== 'function' || !tableDb || typeof tableDb.put !== 'function') return;
  const active = new Map();
  let changes = 0;
  for (const method of ['put', 'del', 'batch']) {
    const original = tableDb[method];
    tableDb[method] = function (...args) {
      changes++;
      active.clear();
      return original.apply(this, args);
    };
  }
  store.getTable = function (name, checkStatus, cb) {
    if (typeof checkStatus === 'function') {
      cb = checkStatus;
      checkStatus = true;
    }
    // Describe/list calls ask without the status check: they always read the table.
    if (!checkStatus) return getTable(name, false, cb);
    const table = active.get(name);
    if (table) return process.nextTick(cb, null, table);
    const seen = changes;
    getTable(name, true, (err, found) => {
      // A description read while another was being written is not kept.
      if (!err && found && found.TableStatus === 'ACTIVE' && seen === changes) active.set(name, found);
      cb(err, found);
    });
  };
}

/** Items kept in memory at most (about 2-4 KiB each); the least recently used go first. */
const MAX_KEPT_ITEMS = 4096;
/** dynalite's keys of table items (`item-<table>~<key>`); index and table entries are not kept. */
const ITEM_KEY = /^item-/;
/** Writes batched per turn: items and their index entries. A table's description is written at once. */
const BATCHED_KEY = /^(item|index)-/;

/**
 * Every item write is a read of the item, then a write of it: two round trips to LevelDB's
 * thread pool, each a wake-up of another thread, per notify. Items written (or read while no
 * write landed) are kept in memory, since this process is LevelDB's only user, so reading a
 * known item costs no round trip. And the writes one turn of the event loop produces go to
 * LevelDB as one batch: one round trip and one log write for all of them. A write is still
 * answered only once LevelDB has it, and what is kept changes only then. dynalite writes an
 * item only under its per-item lock, so one item never has two writes on the way at once.
 */
function keepItemsAndBatchWrites(store) {
  const db = store.db;
  if (!db || typeof db.get !== 'function' || typeof db.put !== 'function' || typeof db.batch !== 'function') return;
  const { get, put, del, batch } = db;
  const kept = new Map();
  /** Writes landed so far: a read that saw any land meanwhile may hold an older value, and is not kept. */
  let landed = 0;
  const keep = (key, value) => {
    kept.delete(key);
    kept.set(key, value);
    if (kept.size > MAX_KEPT_ITEMS) kept.delete(kept.keys().next().value);
  };
  const isItem = (key) => typeof key === 'string' && ITEM_KEY.test(key);

  db.get = function (key, callback) {
    if (typeof callback !== 'function' || !isItem(key)) return get.apply(this, arguments);
    const value = kept.get(key);
    if (value !== undefined) {
      keep(key, value);
      return process.nextTick(callback, null, value);
    }
    const seen = landed;
    return get.call(this, key, (err, found) => {
      if (!err && found !== undefined && seen === landed) keep(key, found);
      callback(err, found);
    });
  };

  let pending = [];
  const flush = () => {
    const ops = pending;
    pending = [];
    batch.call(
      db,
      ops.map(({ op }) => op),
      (err) => {
        landed++;
        for (const { op, callback } of ops) {
          if (isItem(op.key)) {
            if (!err && op.type === 'put') keep(op.key, op.value);
            else kept.delete(op.key);
          }
          callback(err || null);
        }
      },
    );
  };
  const enqueue = (op, callback) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push({ op, callback });
  };
  db.put = function (key, value, callback) {
    if (typeof callback === 'function' && typeof key === 'string' && BATCHED_KEY.test(key)) {
      return enqueue({ type: 'put', key, value }, callback);
    }
    kept.delete(key);
    landed++;
    return put.apply(this, arguments);
  };
  db.del = function (key, callback) {
    if (typeof callback === 'function' && typeof key === 'string' && BATCHED_KEY.test(key))
      return enqueue({ type: 'del', key }, callback);
    kept.delete(key);
    landed++;
    return del.apply(this, arguments);
  };
  db.batch = function (ops, callback) {
    // dynalite's own batches (deleting a table's items) forget everything kept, before and after.
    kept.clear();
    landed++;
    const forget = () => {
      landed++;
      kept.clear();
    };
    if (typeof callback === 'function') {
      return batch.call(this, ops, (err) => {
        forget();
        callback(err);
      });
    }
    const result = batch.apply(this, arguments);
    if (result && typeof result.then === 'function') result.then(forget, forget);
    return result;
  };
}

/**
 * dynalite writes every index entry of an item again on every item write, changed or not (an
 * md5 key hash and a LevelDB put per index). A notify changes no attribute any index holds
 * (shared/store/table/definition.ts keeps `expiresAt` out of them for DynamoDB's sake), so its
 * index writes are skipped when no attribute an index keys or projects differs: what the index
 * holds is then exactly what it held. Any difference takes dynalite's own path unchanged.
 */
function skipUnchangedIndexEntries() {
  const updateIndexes = dynaliteDb.updateIndexes;
  if (typeof updateIndexes !== 'function' || dynaliteDb.__lwmqnIndexPatch) return;
  dynaliteDb.__lwmqnIndexPatch = true;
  dynaliteDb.updateIndexes = function updateChangedIndexes(store, table, existingItem, item, cb) {
    if (existingItem && item && indexedAttributesEqual(table, existingItem, item)) return cb();
    return updateIndexes.call(this, store, table, existingItem, item, cb);
  };
}

function indexedAttributesEqual(table, a, b) {
  const indexes = [...(table.LocalSecondaryIndexes || []), ...(table.GlobalSecondaryIndexes || [])];
  if (indexes.length === 0) return true;
  const attrs = new Set(table.KeySchema.map((k) => k.AttributeName));
  for (const index of indexes) {
    // An index that projects everything changes with any attribute.
    if (!index.Projection || index.Projection.ProjectionType === 'ALL') return isDeepStrictEqual(a, b);
    for (const k of index.KeySchema) attrs.add(k.AttributeName);
    for (const name of index.Projection.NonKeyAttributes || []) attrs.add(name);
  }
  for (const name of attrs) if (!isDeepStrictEqual(a[name], b[name])) return false;
  return true;
}

/** Parses kept, at most; past this the cache starts again (the server sends a few dozen shapes). */
const MAX_CACHED_EXPRESSIONS = 2000;
/** Checks whose outcome depends on a value's content, not only its type: never cached. */
const CONTENT_CHECKED = /\b(between|attribute_type)\b/i;

/**
 * dynalite parses every expression with a generated PEG parser on every request: about a fifth
 * of the store's CPU on the notify path, for the same few expression strings. A parse depends on
 * the expression, the attribute names, and the values' types (its checks look at types only,
 * except BETWEEN and attribute_type, which are not cached); the tree it returns holds the value
 * objects themselves. So a tree is kept per (expression, names, value types), and a later request
 * gets a copy with its own values in the places of the first one's, and the same placeholders
 * marked used. A parse that fails is not kept: its error comes from the parser every time.
 */
function cacheParsedExpressions(parser, kind) {
  const parse = parser.parse;
  if (typeof parse !== 'function' || parser.__lwmqnCache) return;
  parser.__lwmqnCache = true;
  const cache = new Map();
  parser.parse = function parseCached(input, options) {
    const context = options && options.context;
    if (!context || typeof input !== 'string' || CONTENT_CHECKED.test(input)) return parse.call(this, input, options);
    const names = context.attrNames || {};
    const values = context.attrVals || {};
    const key = `${kind}\0${context.isKeyCondition ? 1 : 0}\0${input}\0${JSON.stringify(names)}\0${typesOf(values)}`;
    const hit = cache.get(key);
    if (hit) {
      for (const name of hit.usedNames) delete context.unusedAttrNames[name];
      for (const name of hit.usedValues) delete context.unusedAttrVals[name];
      return withValues(hit.tree, hit.placeholderOf, values);
    }
    const unusedNamesBefore = Object.keys(context.unusedAttrNames || {});
    const unusedValuesBefore = Object.keys(context.unusedAttrVals || {});
    const tree = parse.call(this, input, options);
    const placeholderOf = new Map();
    for (const name of Object.keys(values)) placeholderOf.set(values[name], name);
    if (cache.size >= MAX_CACHED_EXPRESSIONS) cache.clear();
    cache.set(key, {
      // A copy: the request goes on with the tree it got, and may change it.
      tree: withValues(tree, placeholderOf, values),
      placeholderOf,
      usedNames: unusedNamesBefore.filter((name) => !(name in context.unusedAttrNames)),
      usedValues: unusedValuesBefore.filter((name) => !(name in context.unusedAttrVals)),
    });
    return tree;
  };
}

function typesOf(values) {
  let out = '';
  for (const name of Object.keys(values)) {
    const v = values[name];
    out += `${name}:${v && typeof v === 'object' ? Object.keys(v).join('|') : typeof v},`;
  }
  return out;
}

/** A deep copy of a parse tree, each value object of the parse replaced by this request's value of that placeholder. */
function withValues(node, placeholderOf, values) {
  if (node === null || typeof node !== 'object') return node;
  const placeholder = placeholderOf.get(node);
  if (placeholder !== undefined) return values[placeholder];
  if (Array.isArray(node)) return node.map((each) => withValues(each, placeholderOf, values));
  const copy = Object.create(Object.getPrototypeOf(node));
  for (const k of Object.keys(node)) copy[k] = withValues(node[k], placeholderOf, values);
  return copy;
}

module.exports = { applyStorePatches };
