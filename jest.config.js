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
  // The Node worker module @azure/functions needs; the local host provides a stand-in.
  moduleNameMapper: { '^@azure/functions-core$': '<rootDir>/src/local/host/functions-core-stand-in.ts' },
};
