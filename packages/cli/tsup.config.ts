import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/bin.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  // Optional dependencies (tsup externalises only dependencies and peerDependencies): imported at
  // run time by `gingham enforce --dataplane ebpf`, `gingham doctor` and `gingham get --datastore
  // kubernetes` when installed, never bundled.
  external: ['@gingham/dataplane-ebpf', '@gingham/ebpf-loader', '@gingham/k8s'],
});
