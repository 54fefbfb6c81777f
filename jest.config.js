/** @type {import('jest').Config} */
const common = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
};

module.exports = {
  testTimeout: 30000,
  // mqtt-node (the real client under test) leaves its lifetime-update timer running after
  // it deregisters; without this jest would wait on it forever.
  forceExit: true,
  projects: [
    { ...common, displayName: 'all', testMatch: ['**/*.test.ts'] },
    {
      // The channel handlers again, wired as the local stack wires them (device cache, and
      // registrations in progress kept in memory) instead of as Lambda does.
      ...common,
      displayName: 'handlers, local wiring',
      setupFiles: [...common.setupFiles, '<rootDir>/test/setup-local-wiring.ts'],
      testMatch: ['**/test/unit/{register,update,response,registration-flow,reaper,notify,deregister,ping,lwt,schedule}.test.ts'],
    },
  ],
};
