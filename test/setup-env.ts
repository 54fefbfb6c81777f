// The SDK's notice that future releases need Node 22 is for operators, not for every test file.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// Only the 'handlers, local wiring' project sets this (after this file); never let it leak.
delete process.env.LWMQN_TEST_LOCAL_WIRING;
// The Lambda entries write a CloudWatch metrics record per invocation to stdout; in tests that is
// noise. test/infra/stack.test.ts switches them on for the bundled entry whose output it checks.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
