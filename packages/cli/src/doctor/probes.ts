/**
 * What `gingham doctor` may ask of the host: read small files under /proc and /sys, look up
 * commands on the PATH, run a version query (`iptables -V`), and call the eBPF loader's
 * feature probes (a two-instruction program or a one-entry map, created and closed again;
 * `hasTcx` asks for a link on ifindex 0, which exists nowhere). Nothing here mounts, loads a
 * module, attaches a program or writes a rule: doctor must leave the host as it found it.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile, readlink } from 'node:fs/promises';
import { arch, release } from 'node:os';
import { delimiter, join } from 'node:path';

/** The outcome of one eBPF feature probe. */
export type ProbeResult =
  | { readonly status: 'ok' }
  /** The kernel lacks the feature. */
  | { readonly status: 'unsupported'; readonly detail: string }
  /** The probe could not run (no permission, no native binding); `code` as thrown. */
  | { readonly status: 'error'; readonly code: string; readonly detail: string };

export interface BpfProbes {
  programType(type: 'sched_cls'): Promise<ProbeResult>;
  mapType(type: 'hash' | 'lru_hash' | 'lpm_trie' | 'array' | 'ringbuf'): Promise<ProbeResult>;
  tcx(): Promise<ProbeResult>;
}

export interface HostProbes {
  readonly uid: number;
  /** `uname -r`. */
  readonly kernelRelease: string;
  readonly arch: string;
  /** A small text file, or undefined when absent or unreadable. */
  readText(path: string): Promise<string | undefined>;
  exists(path: string): Promise<boolean>;
  /** The target of a symlink (`/proc/self/ns/mnt` → `mnt:[4026531841]`), or undefined. */
  readLink(path: string): Promise<string | undefined>;
  /** The path of an executable on the PATH or in the sbin directories, or undefined. */
  which(command: string): Promise<string | undefined>;
  /** Runs a query that changes nothing (`iptables -V`), with a short timeout. */
  run(argv: readonly string[]): Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }>;
  readonly bpf: BpfProbes;
}

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function errorProbe(err: unknown): ProbeResult {
  const e = err as { code?: unknown; name?: string; message?: string };
  const code = typeof e.code === 'string' ? e.code : 'ERROR';
  if (code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('@gingham/ebpf-loader')) {
    return { status: 'error', code: 'NOT_INSTALLED', detail: 'the eBPF loader is not installed (@gingham/ebpf-loader is an optional dependency of @gingham/cli): npm install @gingham/ebpf-loader' };
  }
  const detail = (e.message ?? String(err)).replace(/^gingham: /, '');
  if (code === 'BPF_NOT_SUPPORTED') return { status: 'unsupported', detail };
  return { status: 'error', code: (e as { errnoName?: string }).errnoName ?? code, detail };
}

/** The eBPF loader's probes, loaded lazily (its native binding loads only here). */
function loaderProbes(): BpfProbes {
  type Loader = typeof import('@gingham/ebpf-loader');
  let loader: Promise<Loader> | undefined;
  const probe = async (f: (l: Loader) => unknown, unsupported?: string): Promise<ProbeResult> => {
    try {
      const r = f(await (loader ??= import('@gingham/ebpf-loader')));
      if (r === false) return { status: 'unsupported', detail: unsupported ?? 'not supported' };
      return { status: 'ok' };
    } catch (err) {
      return errorProbe(err);
    }
  };
  return {
    programType: (type) => probe((l) => l.probeProgramType(type)),
    mapType: (type) => probe((l) => l.probeMapType(type)),
    tcx: () => probe((l) => l.hasTcx(), 'the kernel has no tcx (Linux 6.6 or later)'),
  };
}

/** The real host. */
export function createHostProbes(): HostProbes {
  return {
    uid: process.getuid?.() ?? -1,
    kernelRelease: release(),
    arch: arch(),
    readText: (path) => readFile(path, 'utf8').catch(() => undefined),
    exists: (path) => access(path).then(() => true, () => false),
    readLink: (path) => readlink(path).catch(() => undefined),
    async which(command) {
      const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...SBIN];
      for (const dir of dirs) {
        const path = join(dir, command);
        if (await access(path, constants.X_OK).then(() => true, () => false)) return path;
      }
      return undefined;
    },
    run: (argv) =>
      new Promise((resolve) => {
        execFile(argv[0]!, argv.slice(1), { timeout: 5000, encoding: 'utf8' }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
          resolve({ code, stdout, stderr });
        });
      }),
    bpf: loaderProbes(),
  };
}
