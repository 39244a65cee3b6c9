import { defineConfig } from 'vitest/config';

// Two projects over one layout (docs/testing.md; scripts/lint.mjs checks it):
//  - `unit`: `src/**/*.test.ts` beside their module and `test/**/*.test.ts` through the public API,
//    the built bin or real servers on loopback (incl. `*.prop.test.ts`), in parallel, no root;
//  - `kernel`: `test/**/*.kernel.test.ts`, root-only tests that program the kernel inside network
//    namespaces they create; one file at a time so namespaces and the machine's 2 cores are not
//    shared between them. The dataplanes' shared suite (@gingham/dataplane-conformance) runs in
//    one file per dataplane on one topology, so its long tests get the larger timeout.
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
          include: ['packages/*/test/**/*.kernel.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
