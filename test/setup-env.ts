// The SDK's notice that future releases need Node 22 is for operators, not for every test file.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// Only the 'handlers, local wiring' project sets this (after this file); never let it leak.
delete process.env.LWMQN_TEST_LOCAL_WIRING;
