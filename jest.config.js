/**
 * Four projects, split by what they touch (`npm test` typechecks first):
 * unit (pure code and fakes), integration (the real local stack, started once
 * in globalSetup; test/e2e drives that same stack from a headless Chromium),
 * infra (CDK Template assertions and cdk-nag), emulators (the local Stripe,
 * STS and SQS emulators, each test starting its own on a free port, so no
 * global setup).
 * @type {import('jest').Config}
 */
const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  setupFiles: ['<rootDir>/test/setup/env.ts'],
  // Tests import the client workspace (@entitlements-backend/client) from its sources, as tsconfig's customConditions does.
  testEnvironmentOptions: { customExportConditions: ['node', 'node-addons', '@entitlements-backend/source'] },
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/adversarial/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    { ...common, displayName: 'emulators', testMatch: ['<rootDir>/test/emulators/**/*.test.ts'] },
  ],
  testTimeout: 30000,
};
