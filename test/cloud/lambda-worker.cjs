'use strict';
// One Lambda execution environment of the cloud emulation (test/cloud/emulator.ts): a process of
// its own, with only the environment the template gives the function (plus what Lambda itself
// sets), that loads the function's bundle from the cloud assembly and runs one invocation at a
// time, as a Lambda container does. `LWMQN_EMU_TASK_ROOT` is the asset directory and `_HANDLER`
// the template's `Handler` (`<file>.<export>`).
const { join } = require('node:path');

const handlerSetting = process.env._HANDLER || '';
const dot = handlerSetting.lastIndexOf('.');
const file = handlerSetting.slice(0, dot);
const exportName = handlerSetting.slice(dot + 1);
const taskRoot = process.env.LWMQN_EMU_TASK_ROOT;
delete process.env.LWMQN_EMU_TASK_ROOT;

let handler;
try {
  const mod = require(join(taskRoot, file));
  handler = mod[exportName];
  if (typeof handler !== 'function') throw new Error(`${handlerSetting}: the bundle exports no function ${exportName}`);
} catch (err) {
  process.send({ type: 'init-error', message: String((err && err.stack) || err) });
  process.exit(1);
}

process.on('message', (msg) => {
  if (!msg || msg.type !== 'invoke') return;
  const deadline = Date.now() + msg.timeoutMs;
  const context = {
    awsRequestId: msg.requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    invokedFunctionArn: msg.functionArn,
    logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  Promise.resolve()
    .then(() => handler(msg.event, context))
    .then(
      (result) => process.send({ type: 'result', id: msg.id, result: result === undefined ? null : result }),
      (err) =>
        process.send({
          type: 'error',
          id: msg.id,
          errorType: (err && err.name) || 'Error',
          message: String((err && err.stack) || err),
        }),
    );
});

// The parent's going away ends the environment.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
