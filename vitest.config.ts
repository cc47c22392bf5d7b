import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: process-heavy e2e files run better with few workers.
    maxWorkers: 2,
    globalSetup: ['test/setup/moto.ts'],
  },
});
