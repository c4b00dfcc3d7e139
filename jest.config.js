/** @type {import('jest').Config} */
module.exports = {
  // Node, with console output held back unless a test fails (a passing run prints no logs).
  testEnvironment: '<rootDir>/test/support/quiet-environment.cjs',
  // bridge/ is its own package (the on-prem ServiceNow bridge); its suites run with the app's.
  roots: ['<rootDir>/test', '<rootDir>/bridge/test'],
  testMatch: ['**/*.test.ts'],
  // Type checking is done once by `tsc --noEmit` in `npm test`; ts-jest only transpiles.
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false, tsconfig: { isolatedModules: true } }] },
  testTimeout: 60000,
  // Every ARM request and simulator answer is checked against the SDK packages' models.
  setupFilesAfterEnv: ['<rootDir>/test/support/arm-contract.ts'],
  maxWorkers: 2,
  // Measured at the end of full runs on 2 loaded cores: both workers had closed every handle and
  // file (only the IPC pipe and stdio left) and emitted 'exit' within 1 ms of jest's end message,
  // yet one took 465–540 ms to be gone (tearing down a 600–800 MB process), past jest's default
  // of 500 ms, so jest printed "A worker process has failed to exit gracefully". Not a leak: give
  // the exit the time it takes.
  workerGracefulExitTimeout: 5000,
  // The Node worker module @azure/functions needs; the local host provides a stand-in.
  moduleNameMapper: { '^@azure/functions-core$': '<rootDir>/src/local/host/functions-core-stand-in.ts' },
};
