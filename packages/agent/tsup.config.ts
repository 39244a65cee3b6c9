import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  // Optional: loaded at run time only for --dataplane ebpf and --datastore kubernetes.
  external: ['@gingham/dataplane-ebpf', '@gingham/ebpf-loader', '@gingham/k8s'],
});
