'use strict';
// Runs the reference LWMQN server, mqtt-shepherd 0.7.7 (installed on demand by the benchmark
// into .bench-cache, never a dependency of ours), in its own process with a small HTTP front
// so remote reads are measured the same way as ours: POST /devices/:id/read {path}.
// Node 20 needs: jsonschema@1.2.4 (an npm override), its embedded broker on 1883 without LevelUp.
const http = require('node:http');
const path = require('node:path');
const MqttShepherd = require(path.join(process.env.SHEPHERD_DIR, 'node_modules/mqtt-shepherd'));

const server = new MqttShepherd('reference', {
  broker: { port: 1883 },
  dbPath: path.join(process.env.SHEPHERD_DATA, 'mqtt.db'),
});

server.on('ready', () => {
  server.permitJoin(3600);
  const api = http.createServer((req, res) => {
    const m = /^\/devices\/([^/]+)\/read$/.exec(req.url || '');
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const node = m && server.find(decodeURIComponent(m[1]));
      if (!node) {
        res.writeHead(404).end('{}');
        return;
      }
      node.readReq(JSON.parse(body).path, (err, rsp) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(err ? { status: 500 } : { status: rsp.status, data: rsp.data }));
      });
    });
  });
  api.listen(Number(process.env.HTTP_PORT), '127.0.0.1', () => process.stdout.write('READY\n'));
});
server.on('error', (err) => process.stderr.write(`reference server error: ${err && err.message}\n`));
server.start((err) => {
  if (err) {
    process.stderr.write(`reference server failed to start: ${err.message}\n`);
    process.exit(1);
  }
});
