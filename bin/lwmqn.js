#!/usr/bin/env node
// The `lwmqn` command: TypeScript sources run through tsx's require hook, no build step.
// `lwmqn start` alone runs the server as `npm start` does (local/launch.cjs), without tsx's hook in
// its process (docs/PERFORMANCE.md, "A lighter start"); V8 flags cannot be added from here, so it
// runs without npm start's --max-semi-space-size=4 (README, "Manage your fleet").
if (process.argv.length === 3 && process.argv[2] === 'start') {
  require('../local/launch.cjs').launch();
} else {
  require('tsx/cjs');
  require('../local/cli/main.ts');
}
