/**
 * `gingham doctor`: what each dataplane (iptables, eBPF, WireGuard) needs from this host, and
 * whether it is here, with the Debian package for every missing tool. Pure reasoning over
 * `HostProbes` answers, so it is tested with made-up hosts; the real probes never change the
 * host (see probes.ts).
 */
import type { HostProbes, ProbeResult } from './probes.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** Stable id, e.g. `ipset`, `bpf-syscall`, `bpffs`. */
  readonly id: string;
  readonly title: string;
  /** `fail`: the dataplane cannot run; `warn`: it runs, with a caveat. */
  readonly status: CheckStatus;
  readonly detail: string;
  /** What to do about it. */
  readonly fix?: string;
  /** The Debian package that brings what is missing. */
  readonly package?: string;
}

export type DataplaneName = 'iptables' | 'ebpf' | 'wireguard';

export interface DataplaneReport {
  readonly name: DataplaneName;
  readonly title: string;
  readonly ready: boolean;
  readonly checks: readonly DoctorCheck[];
}

export interface DoctorReport {
  readonly host: {
    readonly kernel: string;
    readonly arch: string;
    readonly uid: number;
    /** Effective capabilities by name (`CAP_NET_ADMIN`…), of those Gingham cares about. */
    readonly capabilities: readonly string[];
    /** True under `ip netns exec` or `unshare -m`; undefined when it cannot be told (not root). */
    readonly privateMountNamespace?: boolean;
  };
  readonly dataplanes: readonly DataplaneReport[];
  /** Debian packages that would bring every missing tool, for `apt-get install`. */
  readonly install: readonly string[];
  /** Every dataplane asked about is ready. */
  readonly ready: boolean;
}

const CAPS: Record<string, number> = { CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 };

/** Effective capabilities from `/proc/self/status` (`CapEff: 000001ffffffffff`). */
export function parseCapabilities(status: string | undefined): Set<string> {
  const hex = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status ?? '')?.[1];
  const out = new Set<string>();
  if (!hex) return out;
  const mask = BigInt(`0x${hex}`);
  for (const [name, bit] of Object.entries(CAPS)) if ((mask >> BigInt(bit)) & 1n) out.add(name);
  return out;
}

/** `6.1.0-18-amd64` → [6, 1]. */
export function kernelVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function atLeast(v: [number, number] | undefined, major: number, minor: number): boolean {
  return v !== undefined && (v[0] > major || (v[0] === major && v[1] >= minor));
}

/** How a kernel module is present, without loading it: /sys/module, then modules.builtin and modules.dep. */
async function kernelModule(probes: HostProbes, name: string): Promise<'loaded' | 'built-in' | 'available' | 'missing' | 'unknown'> {
  if (await probes.exists(`/sys/module/${name}`)) return 'loaded';
  const dir = `/lib/modules/${probes.kernelRelease}`;
  const [builtin, dep] = await Promise.all([probes.readText(`${dir}/modules.builtin`), probes.readText(`${dir}/modules.dep`)]);
  if (builtin === undefined && dep === undefined) return 'unknown';
  const re = new RegExp(`(^|/)${name.replace(/[-_]/g, '[-_]')}\\.ko(\\.[a-z]+)?(:|$)`, 'm');
  if (builtin !== undefined && re.test(builtin)) return 'built-in';
  if (dep !== undefined && re.test(dep)) return 'available';
  return 'missing';
}

const MODULE_TEXT = {
  loaded: 'loaded',
  'built-in': 'built into the kernel',
  available: 'installed (the kernel loads it on first use)',
  missing: 'not installed for this kernel',
  unknown: 'cannot tell (no /lib/modules for this kernel, as in many containers)',
} as const;

async function tool(probes: HostProbes, command: string, pkg: string, why: string, required = true): Promise<DoctorCheck> {
  const path = await probes.which(command);
  if (path) return { id: command, title: command, status: 'ok', detail: path };
  return {
    id: command,
    title: command,
    status: required ? 'fail' : 'warn',
    detail: `not found (${why})`,
    fix: `apt-get install --no-install-recommends ${pkg}`,
    package: pkg,
  };
}

function probeCheck(id: string, title: string, r: ProbeResult, okDetail: string, fix: string): DoctorCheck {
  if (r.status === 'ok') return { id, title, status: 'ok', detail: okDetail };
  if (r.status === 'unsupported') return { id, title, status: 'fail', detail: r.detail, fix };
  const permission = r.code === 'EPERM' || r.code === 'EACCES';
  return {
    id,
    title,
    status: 'fail',
    detail: permission ? `not permitted (${r.code})` : r.detail,
    fix: permission ? 'run as root, or with CAP_BPF (or CAP_SYS_ADMIN) and CAP_NET_ADMIN' : fix,
  };
}

function privileges(caps: Set<string>, uid: number, need: string[][], what: string): DoctorCheck {
  const missing = need.filter((alternatives) => !alternatives.some((c) => caps.has(c)));
  const have = need.map((alternatives) => alternatives.find((c) => caps.has(c))).filter((c): c is string => c !== undefined);
  const who = uid === 0 ? 'root' : `uid ${uid}`;
  if (missing.length === 0) return { id: 'privileges', title: 'privileges', status: 'ok', detail: `${who}: ${have.join(', ')}` };
  return {
    id: 'privileges',
    title: 'privileges',
    status: 'fail',
    detail: `${who} lacks ${missing.map((a) => a.join(' or ')).join(', ')} (${what})`,
    fix: 'run as root (sudo), or grant the capabilities',
  };
}

/** Runs every check for the dataplanes asked about (all three by default). */
export async function runDoctor(probes: HostProbes, only?: readonly DataplaneName[]): Promise<DoctorReport> {
  const want = new Set<DataplaneName>(only && only.length > 0 ? only : ['iptables', 'ebpf', 'wireguard']);
  const caps = parseCapabilities(await probes.readText('/proc/self/status'));
  const version = kernelVersion(probes.kernelRelease);
  const [selfNs, initNs] = await Promise.all([probes.readLink('/proc/self/ns/mnt'), probes.readLink('/proc/1/ns/mnt')]);
  const privateMountNamespace = selfNs !== undefined && initNs !== undefined ? selfNs !== initNs : undefined;
  const dataplanes: DataplaneReport[] = [];

  if (want.has('iptables')) {
    const checks: DoctorCheck[] = [privileges(caps, probes.uid, [['CAP_NET_ADMIN']], 'to change iptables rules and IP sets')];
    const restore = await tool(probes, 'iptables-restore', 'iptables', 'writes the rules atomically');
    if (restore.status === 'ok') {
      const v = await probes.run(['iptables', '-V']);
      const backend = /\((nf_tables|legacy)\)/.exec(v.stdout)?.[1];
      checks.push({
        ...restore,
        detail: backend ? `${restore.detail}; backend ${backend === 'nf_tables' ? 'nft' : 'legacy'} (${v.stdout.trim()})` : `${restore.detail}; backend unknown (iptables -V: ${(v.stdout || v.stderr).trim() || `exit ${v.code}`})`,
      });
    } else checks.push(restore);
    checks.push(await tool(probes, 'ipset', 'ipset', 'holds the peers of every rule'));
    checks.push(await tool(probes, 'ip', 'iproute2', 'reads interface addresses for host endpoints'));
    checks.push(await tool(probes, 'conntrack', 'conntrack', 'optional: inspect or flush tracked flows', false));
    const ipset = await kernelModule(probes, 'ip_set');
    checks.push({
      id: 'ip_set-module',
      title: 'ip_set kernel module',
      status: ipset === 'missing' ? 'fail' : ipset === 'unknown' ? 'warn' : 'ok',
      detail: MODULE_TEXT[ipset],
      ...(ipset === 'missing' ? { fix: 'install the kernel modules package of this kernel (linux-image-…)' } : {}),
    });
    dataplanes.push(report('iptables', 'iptables dataplane', checks));
  }

  if (want.has('ebpf')) {
    const checks: DoctorCheck[] = [privileges(caps, probes.uid, [['CAP_BPF', 'CAP_SYS_ADMIN'], ['CAP_NET_ADMIN']], 'to load programs and attach them to interfaces')];
    checks.push(
      atLeast(version, 5, 11)
        ? { id: 'kernel', title: 'kernel 5.11 or later', status: 'ok', detail: probes.kernelRelease }
        : {
            id: 'kernel',
            title: 'kernel 5.11 or later',
            status: 'fail',
            detail: `${probes.kernelRelease} (the program uses ring buffers, Linux 5.8, and the coarse clock, 5.11)`,
            fix: 'run a newer kernel (Debian 12 ships 6.1)',
          },
    );
    const syscall = await probes.bpf.programType('sched_cls');
    checks.push(probeCheck('bpf-syscall', 'bpf() syscall', syscall, 'a tc (sched_cls) program loads', 'a kernel with CONFIG_BPF_SYSCALL and CONFIG_NET_CLS_BPF'));
    if (syscall.status === 'ok') {
      const missing: string[] = [];
      for (const type of ['hash', 'lru_hash', 'lpm_trie', 'array', 'ringbuf'] as const) {
        const r = await probes.bpf.mapType(type);
        if (r.status !== 'ok') missing.push(`${type} (${r.detail})`);
      }
      checks.push(
        missing.length === 0
          ? { id: 'map-types', title: 'map types', status: 'ok', detail: 'hash, lru_hash, lpm_trie, array, ringbuf' }
          : { id: 'map-types', title: 'map types', status: 'fail', detail: `missing: ${missing.join(', ')}`, fix: 'run a newer kernel (5.11 or later)' },
      );
    }
    const jit = (await probes.readText('/proc/sys/net/core/bpf_jit_enable'))?.trim();
    checks.push(
      jit === '1' || jit === '2'
        ? { id: 'jit', title: 'BPF JIT', status: 'ok', detail: `enabled (bpf_jit_enable = ${jit})` }
        : {
            id: 'jit',
            title: 'BPF JIT',
            status: 'warn',
            detail: jit === undefined ? 'unknown (no /proc/sys/net/core/bpf_jit_enable)' : `disabled (bpf_jit_enable = ${jit}): programs run interpreted, slower`,
            fix: 'sysctl -w net.core.bpf_jit_enable=1',
          },
    );
    checks.push(
      (await probes.exists('/sys/kernel/btf/vmlinux'))
        ? { id: 'btf', title: 'kernel BTF', status: 'ok', detail: '/sys/kernel/btf/vmlinux' }
        : { id: 'btf', title: 'kernel BTF', status: 'warn', detail: 'no /sys/kernel/btf/vmlinux: verifier messages and bpftool output name no kernel types', fix: 'a kernel built with CONFIG_DEBUG_INFO_BTF (Debian kernels are)' },
    );
    const tcx = syscall.status === 'ok' ? await probes.bpf.tcx() : syscall;
    checks.push(
      tcx.status === 'ok'
        ? { id: 'tcx', title: 'tcx links', status: 'ok', detail: 'available: programs attach with tcx links' }
        : { id: 'tcx', title: 'tcx links', status: 'warn', detail: `${tcx.status === 'unsupported' ? 'not available (Linux 6.6 or later)' : tcx.detail}: tc clsact filters are used instead` },
    );
    const tc = await tool(probes, 'tc', 'iproute2', 'attaches through clsact when tcx is not available', tcx.status !== 'ok');
    const clsact = await kernelModule(probes, 'sch_ingress');
    checks.push(
      tc.status === 'ok' && clsact !== 'missing'
        ? { ...tc, id: 'tc-clsact', title: 'tc clsact', detail: `${tc.detail}; sch_ingress (clsact) ${MODULE_TEXT[clsact]}` }
        : tc.status !== 'ok'
          ? { ...tc, id: 'tc-clsact', title: 'tc clsact' }
          : { id: 'tc-clsact', title: 'tc clsact', status: tcx.status === 'ok' ? 'warn' : 'fail', detail: `sch_ingress (clsact) ${MODULE_TEXT[clsact]}` },
    );
    const mounts = (await probes.readText('/proc/self/mountinfo')) ?? '';
    const bpffs = mounts.split('\n').some((l) => {
      const [pre, post] = l.split(' - ');
      return pre?.split(' ')[4] === '/sys/fs/bpf' && post?.split(' ')[0] === 'bpf';
    });
    if (!bpffs) {
      checks.push({ id: 'bpffs', title: 'bpffs at /sys/fs/bpf', status: 'warn', detail: 'not mounted: enforce mounts one (as root)', fix: 'mount -t bpf bpf /sys/fs/bpf (or let gingham enforce do it)' });
    } else if (privateMountNamespace) {
      checks.push({
        id: 'bpffs',
        title: 'bpffs at /sys/fs/bpf',
        status: 'warn',
        detail: 'mounted, but this process is in a private mount namespace (as under ip netns exec): pins made here may be a private bpffs that goes away with it',
        fix: 'run enforce in the host mount namespace (nsenter --net=… instead of ip netns exec), or give --bpffs a host path',
      });
    } else {
      checks.push({ id: 'bpffs', title: 'bpffs at /sys/fs/bpf', status: 'ok', detail: privateMountNamespace === false ? 'mounted, in the host mount namespace' : 'mounted (mount namespace not checked: needs root)' });
    }
    dataplanes.push(report('ebpf', 'eBPF dataplane', checks));
  }

  if (want.has('wireguard')) {
    const checks: DoctorCheck[] = [privileges(caps, probes.uid, [['CAP_NET_ADMIN']], 'to create interfaces, routes and rules')];
    checks.push(await tool(probes, 'wg', 'wireguard-tools', 'configures keys and peers'));
    checks.push(await tool(probes, 'ip', 'iproute2', 'creates the interface, routes and rules'));
    const module = await kernelModule(probes, 'wireguard');
    const go = await probes.which('wireguard-go');
    if (module === 'loaded' || module === 'built-in' || module === 'available') {
      checks.push({ id: 'implementation', title: 'WireGuard implementation', status: 'ok', detail: `kernel module ${MODULE_TEXT[module]}${go ? `; wireguard-go also at ${go}` : ''}` });
    } else if (go) {
      checks.push({ id: 'implementation', title: 'WireGuard implementation', status: 'ok', detail: `wireguard-go at ${go} (kernel module ${MODULE_TEXT[module]})` });
    } else {
      checks.push({
        id: 'implementation',
        title: 'WireGuard implementation',
        status: 'fail',
        detail: `no kernel module (${MODULE_TEXT[module]}) and no wireguard-go`,
        fix: 'apt-get install --no-install-recommends wireguard-go (or use a kernel with the wireguard module)',
        package: 'wireguard-go',
      });
    }
    dataplanes.push(report('wireguard', 'WireGuard', checks));
  }

  const install = [...new Set(dataplanes.flatMap((d) => d.checks.filter((c) => c.status !== 'ok' && c.package).map((c) => c.package!)))].sort();
  return {
    host: {
      kernel: probes.kernelRelease,
      arch: probes.arch,
      uid: probes.uid,
      capabilities: Object.keys(CAPS).filter((c) => caps.has(c)),
      ...(privateMountNamespace === undefined ? {} : { privateMountNamespace }),
    },
    dataplanes,
    install,
    ready: dataplanes.every((d) => d.ready),
  };
}

function report(name: DataplaneName, title: string, checks: DoctorCheck[]): DataplaneReport {
  return { name, title, ready: checks.every((c) => c.status !== 'fail'), checks };
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

/** The report for a person: per dataplane, each check with what to do, then one apt-get line. */
export function formatDoctor(r: DoctorReport): string {
  const who = r.host.uid === 0 ? 'root' : `uid ${r.host.uid}`;
  const lines = [`gingham doctor: Linux ${r.host.kernel} (${r.host.arch}), running as ${who}`];
  for (const d of r.dataplanes) {
    lines.push('', `${d.title}: ${d.ready ? 'ready' : 'NOT READY'}`);
    const width = Math.max(...d.checks.map((c) => c.title.length));
    for (const c of d.checks) {
      lines.push(`  ${MARK[c.status]}  ${c.title.padEnd(width)}  ${c.detail}`);
      if (c.fix && c.status !== 'ok') lines.push(`        ${' '.repeat(width)}  → ${c.fix}`);
    }
  }
  if (r.install.length > 0) lines.push('', 'To install the missing tools (Debian):', `  apt-get install --no-install-recommends ${r.install.join(' ')}`);
  lines.push('', r.ready ? 'Every dataplane checked can run here.' : 'Fix the FAIL lines above, then run gingham doctor again.');
  return lines.join('\n');
}
