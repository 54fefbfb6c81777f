// Read by test/helpers/recorder.ts `makeDeps`: handler tests run with the local stack's wiring.
process.env.LWMQN_TEST_LOCAL_WIRING = '1';
