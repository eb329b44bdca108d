import { defineConfig } from 'vitest/config';

// Fault injection with real processes (servers, workers, Temporal, Postgres): heavy, so one file at a time.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 180_000,
    retry: 0,
    env: { LOG_LEVEL: 'error' },
  },
});
