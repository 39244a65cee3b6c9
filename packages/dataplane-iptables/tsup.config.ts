import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'flows/netlink-relay': 'src/flows/netlink-relay.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
});
