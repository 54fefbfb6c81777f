'use strict';
// Exercises dynalite's request path in this process before it serves the real store: V8
// compiles dynalite's generated expression parsers, validation and item code only as they run,
// and a freshly started store otherwise answers its first seconds of traffic two to four times
// slower (a fleet reconnecting after a restart meets exactly that). The calls go to a scratch
// in-memory dynalite on its own port, closed afterwards: nothing touches the real data.
const http = require('node:http');

const AUTH = 'AWS4-HMAC-SHA256 Credential=local/19700101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0';
const S = (v) => ({ S: v });
const N = (v) => ({ N: String(v) });

function caller(port, agent) {
  return (target, body) =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/',
          agent,
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `DynamoDB_20120810.${target}`,
            'x-amz-date': '19700101T000000Z',
            authorization: AUTH,
            'content-length': Buffer.byteLength(data),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
}

/**
 * Runs about `requests` item calls shaped like the server's (mostly notify writes) on a scratch
 * table created from `table`, a CreateTable request named 'warmup' with the real layout.
 */
async function warmUp(dynalite, requests, table) {
  const scratch = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise((resolve) => scratch.listen(0, '127.0.0.1', resolve));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const call = caller(scratch.address().port, agent);
  try {
    const created = await call('CreateTable', table);
    if (created !== 200) throw new Error(`scratch table not created (HTTP ${created})`);
    const key = (i) => ({ pk: S(`d#w${i % 8}`), sk: S('device') });
    const item = (i) => ({
      ...key(i),
      kind: S('d#0'),
      dueAt: N(4e9),
      clientId: S(`w${i % 8}`),
      status: S('online'),
      mac: S('aa:bb'),
      lifetime: N(3600),
      expiresAt: N(4e9),
      objects: { M: { 3303: { M: { 0: { M: { 5700: N(21.5), 5701: S('C') } } } } } },
    });
    const one = (i) => {
      if (i % 16 === 0) {
        return call('PutItem', {
          TableName: 'warmup',
          Item: item(i),
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR mac = :mac',
          ExpressionAttributeValues: { ':now': N(i), ':mac': S('aa:bb') },
          ReturnValues: 'ALL_OLD',
        });
      }
      if (i % 8 === 0) return call('GetItem', { TableName: 'warmup', Key: key(i), ConsistentRead: true });
      if (i % 50 === 0) {
        return call('Query', {
          TableName: 'warmup',
          IndexName: 'byExpiry',
          KeyConditionExpression: '#h = :h AND #r < :b',
          ExpressionAttributeNames: { '#h': 'kind', '#r': 'dueAt' },
          ExpressionAttributeValues: { ':h': S('d#0'), ':b': N(i) },
        });
      }
      return call('UpdateItem', {
        TableName: 'warmup',
        Key: key(i),
        UpdateExpression: 'SET #n0 = #n1 + :v2, #n3.#n4.#n5.#n6 = :v7',
        ConditionExpression: '#n0 >= :v2 AND attribute_exists(#n3.#n4.#n5.#n6)',
        ExpressionAttributeNames: {
          '#n0': 'expiresAt',
          '#n1': 'lifetime',
          '#n3': 'objects',
          '#n4': '3303',
          '#n5': '0',
          '#n6': '5700',
        },
        ExpressionAttributeValues: { ':v2': N(1000 + i), ':v7': N(i / 10) },
      });
    };
    for (let i = 0; i < 8; i++) await call('PutItem', { TableName: 'warmup', Item: item(i) });
    for (let i = 0; i < requests; i += 8) await Promise.all(Array.from({ length: 8 }, (_, j) => one(i + j)));
  } finally {
    agent.destroy();
    await new Promise((resolve) => scratch.close(resolve));
  }
}

module.exports = { warmUp };
