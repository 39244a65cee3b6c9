/**
 * Loads the native `bpf(2)` binding lazily (first use, not import), so that pure ELF/BTF parsing
 * works on machines without the addon: the prebuild shipped for this platform first, then an
 * addon compiled at install time. Tests and callers may inject their own binding. Loading must
 * never compile anything or write files.
 */
import { existsSync, readdirSync } from 'node:fs';
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
let loaded: { binding: BpfBinding; source: BpfBindingSource } | undefined;

/** Where the active binding comes from. */
export type BpfBindingSource =
  /** `prebuilds/<platform>-<arch>/gingham_bpf.node`, shipped in the package. */
  | { readonly kind: 'prebuild'; readonly path: string }
  /** `build/Release/gingham_bpf.node`, compiled on this machine by the install script or `npm run build:native`. */
  | { readonly kind: 'compiled'; readonly path: string }
  /** A binding passed to `setBpfBinding`. */
  | { readonly kind: 'injected' };

const ADDON = 'gingham_bpf.node';
const COMPILE_HINT =
  'to compile it, install python3, make and a C compiler (Debian: apt-get install python3 make gcc) ' +
  'and run `npm rebuild @gingham/ebpf-loader`';

/** Replace the native binding (pass `undefined` to go back to the shipped or compiled addon). */
export function setBpfBinding(binding: BpfBinding | undefined): void {
  injected = binding;
}

/**
 * The active binding. On first call it loads, in order, the prebuild for this platform and
 * architecture, then a locally compiled addon; when neither loads it throws
 * `BPF_BINDING_UNAVAILABLE` saying what is missing and how to compile it.
 */
export function getBpfBinding(): BpfBinding {
  if (injected) return injected;
  return (loaded ??= loadBinding()).binding;
}

/** Where the binding that `getBpfBinding()` returns comes from (loading it first if needed). */
export function bpfBindingSource(): BpfBindingSource {
  if (injected) return { kind: 'injected' };
  return (loaded ??= loadBinding()).source;
}

function loadBinding(): { binding: BpfBinding; source: BpfBindingSource } {
  const target = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') {
    throw new BpfError(
      'BPF_BINDING_UNAVAILABLE',
      `the native bpf(2) binding needs Linux (this is ${target}); parsing BPF objects (loadCollectionSpec, parseElf, parseBtf) works without it`,
    );
  }
  // src/ (tests, tsx) and dist/ (built) both sit one level below the package root.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const candidates: Array<BpfBindingSource & { path: string }> = [
    { kind: 'prebuild', path: join(root, 'prebuilds', target, ADDON) },
    { kind: 'compiled', path: join(root, 'build', 'Release', ADDON) },
  ];
  const why: string[] = [];
  const failures: unknown[] = [];
  for (const source of candidates) {
    if (!existsSync(source.path)) {
      why.push(source.kind === 'prebuild' ? `no prebuild for ${target} (${shippedPrebuilds(root)})` : `no compiled addon at ${source.path}`);
      continue;
    }
    try {
      return { binding: createRequire(import.meta.url)(source.path) as BpfBinding, source };
    } catch (cause) {
      failures.push(cause);
      why.push(`${source.path} did not load (${(cause as Error).message.split('\n')[0]})`);
    }
  }
  const log = join(root, 'build', 'native-build.log');
  throw new BpfError(
    'BPF_BINDING_UNAVAILABLE',
    `the native bpf(2) binding is not available: ${why.join('; ')}${existsSync(log) ? ` (the install-time compile failed: see ${log})` : ''}; ${COMPILE_HINT}`,
    failures.length > 0 ? { cause: failures.length === 1 ? failures[0] : new AggregateError(failures) } : undefined,
  );
}

/** "prebuilds ship for linux-arm64, linux-x64", from the directories present. */
function shippedPrebuilds(root: string): string {
  const dir = join(root, 'prebuilds');
  const targets = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort() : [];
  return targets.length > 0 ? `prebuilds ship for ${targets.join(', ')}` : 'no prebuilds in this copy of the package';
}
