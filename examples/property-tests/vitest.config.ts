import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Exact assertions over a large cluster take seconds; properties run hundreds of flows.
    testTimeout: 60_000,
  },
});
