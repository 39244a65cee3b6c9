/**
 * Missing privileges as one clear error (`EBPF_NOT_PERMITTED`) instead of a raw
 * `BPF_MAP_CREATE failed: EPERM`: a check of the effective capabilities before the first change,
 * and a mapping of EPERM/EACCES from bpf(2), bpffs and the lock directory afterwards.
 */
import { readFileSync } from 'node:fs';
import { EbpfDataplaneError } from './errors.js';
import { rerunCommand } from './pin-home.js';

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;
const CAP_BPF = 39n;

const NEEDS = 'CAP_BPF and CAP_NET_ADMIN (or root; CAP_SYS_ADMIN instead of CAP_BPF on kernels before 5.8)';

function effectiveCaps(): bigint | undefined {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)/im.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : undefined;
  } catch {
    return undefined;
  }
}

function whoAmI(): string {
  const uid = process.getuid?.();
  return uid === undefined ? 'this process' : `this process (uid ${uid})`;
}

/** What to do about it: root has the capabilities unless something dropped them. */
function remedy(): string {
  return process.getuid?.() === 0
    ? `Run it with its capabilities (this root process has them dropped, by a container runtime or setpriv): ${rerunCommand()}`
    : `Run it as root: sudo ${rerunCommand()}`;
}

/** Throws `EBPF_NOT_PERMITTED` when this process cannot load and attach BPF programs. */
export function checkPrivileges(): void {
  const caps = effectiveCaps();
  if (caps === undefined) return; // not Linux /proc: let the kernel answer
  const has = (c: bigint): boolean => ((caps >> c) & 1n) === 1n;
  const missing = [...(has(CAP_BPF) || has(CAP_SYS_ADMIN) ? [] : ['CAP_BPF']), ...(has(CAP_NET_ADMIN) ? [] : ['CAP_NET_ADMIN'])];
  if (missing.length === 0) return;
  throw new EbpfDataplaneError(
    'EBPF_NOT_PERMITTED',
    `gingham: the eBPF dataplane needs ${NEEDS}; ${whoAmI()} lacks ${missing.join(' and ')}. Nothing was changed. ${remedy()}`,
    { detail: missing },
  );
}

/**
 * EPERM/EACCES from bpf(2) (the loader's `BPF_SYSCALL` errors carry `errno`) or from the file
 * system (`code`). Not a verifier rejection: the verifier answers EACCES for an unsafe program.
 */
export function isPermissionError(e: unknown): boolean {
  const x = e as { errno?: unknown; code?: unknown };
  if (x?.code === 'BPF_VERIFIER') return false;
  return x?.errno === 1 || x?.errno === 13 || x?.code === 'EPERM' || x?.code === 'EACCES';
}

/**
 * `e` as `EBPF_NOT_PERMITTED` when it is a permission error, else `e` itself. `needs` says what
 * would have allowed it (default: the capabilities of bpf(2) and attaching).
 */
export function permissionError(e: unknown, doing: string, needs: string = NEEDS): unknown {
  if (!isPermissionError(e) || e instanceof EbpfDataplaneError) return e;
  return new EbpfDataplaneError(
    'EBPF_NOT_PERMITTED',
    `gingham: the eBPF dataplane was refused permission to ${doing} (${(e as Error).message.replace(/^gingham: /, '')}); it needs ${needs}. ${remedy()}`,
    { cause: e },
  );
}
