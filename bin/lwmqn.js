#!/usr/bin/env node
// The `lwmqn` command: TypeScript sources run through tsx's require hook, no build step.
require('tsx/cjs');
require('../local/cli/main.ts');
