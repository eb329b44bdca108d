import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The slow process-level fault tests run on their own: npm run test:faults.
    exclude: ['test/faults/**', 'node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // Temporal's native bridge has crashed under worker threads: run suites in forked processes.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Every test is real I/O; a retry would hide a flaky guarantee instead of fixing it.
    retry: 0,
    // Keep the servers' JSON logs out of the test report unless something is wrong.
    env: { LOG_LEVEL: 'error' },
  },
});
