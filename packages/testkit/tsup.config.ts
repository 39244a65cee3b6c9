import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/vitest.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'neutral',
  // The vitest entry imports vitest, an optional peer: never bundle it.
  external: ['vitest', 'fast-check', '@gingham/core'],
});
