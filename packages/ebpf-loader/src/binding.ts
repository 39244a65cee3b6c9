/**
 * Loads the native `bpf(2)` binding lazily (first use, not import), so that pure ELF/BTF parsing
 * works on machines without the addon. Tests and callers may inject their own binding.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError } from './errors.js';

/** The native surface: everything else is TypeScript. */
export interface BpfBinding {
  /** `bpf(cmd, attr, attr.length)`; `ptrs` = [offset, data, ...] patched in as u64 addresses. Returns result or -errno. */
  bpf(cmd: number, attr: Uint8Array, ptrs?: ReadonlyArray<number | Uint8Array>): number;
  /** `if_nametoindex(3)`; 0 when missing. */
  ifNameToIndex(name: string): number;
  /** `setns(2)` on the calling thread; 0 or -errno. */
  setns(fd: number, nstype: number): number;
  /** `mmap(2)` MAP_SHARED of an fd as an ArrayBuffer, or -errno (ring buffers). */
  mmap?(fd: number, length: number, writable: boolean, offset: number): ArrayBuffer | number;
  /** Detach and unmap an ArrayBuffer returned by `mmap`; 0 or -errno. */
  munmap?(buffer: ArrayBuffer): number;
}

let injected: BpfBinding | undefined;
let loaded: BpfBinding | undefined;

/** Replace the native binding (pass `undefined` to go back to the built addon). */
export function setBpfBinding(binding: BpfBinding | undefined): void {
  injected = binding;
}

/** The active binding, loading `build/Release/gingham_bpf.node` on first call. */
export function getBpfBinding(): BpfBinding {
  if (injected) return injected;
  if (loaded) return loaded;
  const here = dirname(fileURLToPath(import.meta.url));
  // src/ (tests, tsx) and dist/ (built) both sit one level below the package root.
  const candidates = [join(here, '..', 'build', 'Release', 'gingham_bpf.node')];
  const path = candidates.find((p) => existsSync(p));
  if (process.platform !== 'linux' || !path) {
    throw new BpfError(
      'BPF_BINDING_UNAVAILABLE',
      `the native bpf(2) binding is not built (looked for ${candidates.join(', ')}); run \`npm run build:native\` in @gingham/ebpf-loader on Linux`,
    );
  }
  try {
    loaded = createRequire(import.meta.url)(path) as BpfBinding;
  } catch (cause) {
    throw new BpfError('BPF_BINDING_UNAVAILABLE', `cannot load the native binding ${path}`, { cause });
  }
  return loaded;
}
