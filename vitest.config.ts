import { defineConfig } from 'vitest/config';

/**
 * Six suites, all run by `npm test`: unit (no servers), workflow (Temporal's time-skipping test
 * server), replay (committed histories against the current workflow code), integration (the real
 * stack: Temporal dev server, MinIO, Mosquitto, PostgreSQL, started by the tests themselves), browser
 * (the console in Debian's Chromium on the real stack) and interop (devices and clients otaflow's
 * authors did not write, on the real stack: docs/interop.md).
 */
export default defineConfig({
  test: {
    // Warnings and errors only: info lines of hundreds of simulated devices would bury the results.
    env: { OTAFLOW_LOG_LEVEL: process.env.OTAFLOW_LOG_LEVEL ?? 'warn' },
    projects: [
      {
        test: {
          name: 'unit',
          // The benchmark's own tests live beside it (bench/test/); its workflow ones run with the workflow suite.
          include: ['test/unit/**/*.test.ts', 'bench/test/**/*.test.ts'],
          exclude: ['bench/test/**/*.workflow.test.ts'],
        },
      },
      {
        test: {
          name: 'workflow',
          include: ['test/workflow/**/*.test.ts', 'bench/test/**/*.workflow.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'replay',
          include: ['test/replay/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'interop',
          include: ['test/interop/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
