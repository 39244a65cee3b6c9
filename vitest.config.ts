import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure, parallel) and `kernel` (root-only tests that program the kernel
// inside network namespaces they create; run one file at a time so namespaces never collide).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
          exclude: ['**/*.kernel.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'kernel',
          include: ['packages/*/src/**/*.kernel.test.ts', 'packages/*/test/**/*.kernel.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
