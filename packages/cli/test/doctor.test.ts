// gingham doctor over made-up hosts: what each dataplane needs, what is missing, the Debian
// package to install, and the exit code (0 only when every dataplane asked about can run).
import { describe, expect, it } from 'vitest';
import { runDoctor, type HostProbes, type ProbeResult } from '@gingham/cli';
import { run } from './run-cli.js';

const ROOT_CAPS = 'CapEff:\t000001ffffffffff\n';
const ok: ProbeResult = { status: 'ok' };

interface FakeHost {
  uid?: number;
  kernel?: string;
  files?: Record<string, string>;
  links?: Record<string, string>;
  tools?: string[];
  iptablesV?: string;
  bpf?: Partial<Record<'programType' | 'mapType' | 'tcx', ProbeResult>>;
}

const FULL_FILES: Record<string, string> = {
  '/proc/self/status': ROOT_CAPS,
  '/proc/sys/net/core/bpf_jit_enable': '1\n',
  '/proc/self/mountinfo': '25 30 0:23 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:8 - bpf bpf rw,mode=700\n',
  '/sys/kernel/btf/vmlinux': '',
  '/sys/module/wireguard': '',
  '/sys/module/ip_set': '',
  '/lib/modules/6.1.0-18-amd64/modules.dep': 'kernel/net/sched/sch_ingress.ko: \nkernel/drivers/net/wireguard/wireguard.ko: kernel/lib/crypto/libchacha.ko\n',
  '/lib/modules/6.1.0-18-amd64/modules.builtin': '',
};
const ALL_TOOLS = ['iptables-restore', 'iptables', 'ipset', 'ip', 'conntrack', 'tc', 'wg'];

function fakeProbes(h: FakeHost = {}): HostProbes & { ran: string[][] } {
  const files = h.files ?? FULL_FILES;
  const tools = h.tools ?? ALL_TOOLS;
  const ran: string[][] = [];
  return {
    ran,
    uid: h.uid ?? 0,
    kernelRelease: h.kernel ?? '6.1.0-18-amd64',
    arch: 'x64',
    readText: async (p) => files[p],
    exists: async (p) => p in files,
    readLink: async (p) => (h.links ?? { '/proc/self/ns/mnt': 'mnt:[4026531841]', '/proc/1/ns/mnt': 'mnt:[4026531841]' })[p],
    which: async (c) => (tools.includes(c) ? `/usr/sbin/${c}` : undefined),
    run: async (argv) => {
      ran.push([...argv]);
      return { code: 0, stdout: h.iptablesV ?? 'iptables v1.8.9 (nf_tables)\n', stderr: '' };
    },
    bpf: {
      programType: async () => h.bpf?.programType ?? ok,
      mapType: async () => h.bpf?.mapType ?? ok,
      tcx: async () => h.bpf?.tcx ?? ok,
    },
  };
}

const statuses = (r: Awaited<ReturnType<typeof runDoctor>>) =>
  Object.fromEntries(r.dataplanes.map((d) => [d.name, Object.fromEntries(d.checks.map((c) => [c.id, c.status]))]));

describe('gingham doctor', () => {
  it('a complete Debian 12 host as root: every dataplane ready, exit 0', async () => {
    const probes = fakeProbes();
    const report = await runDoctor(probes);
    expect(report.ready).toBe(true);
    expect(report.install).toEqual([]);
    expect(statuses(report)).toEqual({
      iptables: { privileges: 'ok', 'iptables-restore': 'ok', ipset: 'ok', ip: 'ok', conntrack: 'ok', 'ip_set-module': 'ok' },
      ebpf: { privileges: 'ok', kernel: 'ok', 'bpf-syscall': 'ok', 'map-types': 'ok', jit: 'ok', btf: 'ok', tcx: 'ok', 'tc-clsact': 'ok', bpffs: 'ok' },
      wireguard: { privileges: 'ok', wg: 'ok', ip: 'ok', implementation: 'ok' },
    });
    expect(report.dataplanes[0]!.checks.find((c) => c.id === 'iptables-restore')!.detail).toBe('/usr/sbin/iptables-restore; backend nft (iptables v1.8.9 (nf_tables))');
    expect(probes.ran).toEqual([['iptables', '-V']]);
    const r = await run(['doctor'], { hostProbes: fakeProbes() });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^gingham doctor: Linux 6\.1\.0-18-amd64 \(x64\), running as root\n\niptables dataplane: ready\n/);
    expect(r.out.trimEnd().split('\n').at(-1)).toBe('Every dataplane checked can run here.');
  });

  it('missing tools name their Debian package, and the apt-get line gathers them; exit 1', async () => {
    const r = await run(['doctor'], { hostProbes: fakeProbes({ tools: ['iptables-restore', 'iptables', 'ip', 'tc'] }) });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\n  FAIL  ipset {17}not found \(holds the peers of every rule\)\n {30}→ apt-get install --no-install-recommends ipset\n/);
    expect(r.out).toMatch(/\n  warn  conntrack {13}not found \(optional: inspect or flush tracked flows\)\n/);
    expect(r.out).toContain('To install the missing tools (Debian):\n  apt-get install --no-install-recommends conntrack ipset wireguard-tools\n');
    const json = JSON.parse((await run(['doctor', '--json'], { hostProbes: fakeProbes({ tools: ['iptables-restore', 'iptables', 'ip', 'tc'] }) })).out) as { ready: boolean; install: string[]; dataplanes: { name: string; ready: boolean }[] };
    expect(json.ready).toBe(false);
    expect(json.install).toEqual(['conntrack', 'ipset', 'wireguard-tools']);
    expect(json.dataplanes.map((d) => [d.name, d.ready])).toEqual([['iptables', false], ['ebpf', true], ['wireguard', false]]);
  });

  it('without root or capabilities, every dataplane says what it lacks', async () => {
    const report = await runDoctor(
      fakeProbes({
        uid: 1000,
        files: { ...FULL_FILES, '/proc/self/status': 'CapEff:\t0000000000000000\n' },
        links: { '/proc/self/ns/mnt': 'mnt:[4026531841]' },
        bpf: { programType: { status: 'error', code: 'EPERM', detail: 'BPF_PROG_LOAD failed: EPERM (1)' } },
      }),
    );
    expect(report.ready).toBe(false);
    const privileges = report.dataplanes.map((d) => d.checks.find((c) => c.id === 'privileges')!.detail);
    expect(privileges).toEqual([
      'uid 1000 lacks CAP_NET_ADMIN (to change iptables rules and IP sets)',
      'uid 1000 lacks CAP_BPF or CAP_SYS_ADMIN, CAP_NET_ADMIN (to load programs and attach them to interfaces)',
      'uid 1000 lacks CAP_NET_ADMIN (to create interfaces, routes and rules)',
    ]);
    const syscall = report.dataplanes[1]!.checks.find((c) => c.id === 'bpf-syscall')!;
    expect(syscall).toMatchObject({ status: 'fail', detail: 'not permitted (EPERM)', fix: 'run as root, or with CAP_BPF (or CAP_SYS_ADMIN) and CAP_NET_ADMIN' });
    expect(report.host.privateMountNamespace).toBeUndefined();
    expect(report.dataplanes[1]!.checks.find((c) => c.id === 'bpffs')!.detail).toBe('mounted (mount namespace not checked: needs root)');
  });

  it('CAP_BPF and CAP_NET_ADMIN without root are enough for eBPF', async () => {
    const caps = (1n << 39n) | (1n << 12n);
    const report = await runDoctor(fakeProbes({ uid: 1000, files: { ...FULL_FILES, '/proc/self/status': `CapEff:\t${caps.toString(16).padStart(16, '0')}\n` } }), ['ebpf']);
    expect(report.dataplanes.map((d) => [d.name, d.ready])).toEqual([['ebpf', true]]);
    expect(report.dataplanes[0]!.checks[0]!.detail).toBe('uid 1000: CAP_BPF, CAP_NET_ADMIN');
  });

  it('an old kernel without tcx or ring buffers, JIT off, no BTF, no bpffs', async () => {
    const files = { ...FULL_FILES, '/proc/sys/net/core/bpf_jit_enable': '0\n', '/proc/self/mountinfo': '' };
    delete (files as Record<string, string>)['/sys/kernel/btf/vmlinux'];
    const report = await runDoctor(
      fakeProbes({ kernel: '5.4.0-150-generic', files, bpf: { tcx: { status: 'unsupported', detail: 'no tcx' }, mapType: { status: 'unsupported', detail: 'map type ringbuf' } } }),
      ['ebpf'],
    );
    expect(statuses(report).ebpf).toEqual({ privileges: 'ok', kernel: 'fail', 'bpf-syscall': 'ok', 'map-types': 'fail', jit: 'warn', btf: 'warn', tcx: 'warn', 'tc-clsact': 'ok', bpffs: 'warn' });
    expect(report.dataplanes[0]!.checks.find((c) => c.id === 'jit')!.detail).toBe('disabled (bpf_jit_enable = 0): programs run interpreted, slower');
  });

  it('without tcx, tc is required; with it, tc is optional', async () => {
    const noTc = ALL_TOOLS.filter((t) => t !== 'tc');
    const withTcx = await runDoctor(fakeProbes({ tools: noTc }), ['ebpf']);
    expect(withTcx.dataplanes[0]!.checks.find((c) => c.id === 'tc-clsact')).toMatchObject({ status: 'warn', package: 'iproute2' });
    const withoutTcx = await runDoctor(fakeProbes({ tools: noTc, bpf: { tcx: { status: 'unsupported', detail: 'no tcx' } } }), ['ebpf']);
    expect(withoutTcx.dataplanes[0]!.checks.find((c) => c.id === 'tc-clsact')).toMatchObject({ status: 'fail', package: 'iproute2' });
    expect(withoutTcx.ready).toBe(false);
  });

  it('a private mount namespace (ip netns exec) is a caveat for bpffs pins', async () => {
    const report = await runDoctor(fakeProbes({ links: { '/proc/self/ns/mnt': 'mnt:[4026532600]', '/proc/1/ns/mnt': 'mnt:[4026531841]' } }), ['ebpf']);
    expect(report.host.privateMountNamespace).toBe(true);
    expect(report.dataplanes[0]!.checks.find((c) => c.id === 'bpffs')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/private mount namespace \(as under ip netns exec\)/) });
  });

  it('WireGuard: the kernel module, else wireguard-go, else a failure naming the package', async () => {
    const noModule = { ...FULL_FILES };
    delete (noModule as Record<string, string>)['/sys/module/wireguard'];
    noModule['/lib/modules/6.1.0-18-amd64/modules.dep'] = 'kernel/net/sched/sch_ingress.ko:\n';
    const go = await runDoctor(fakeProbes({ files: noModule, tools: [...ALL_TOOLS, 'wireguard-go'] }), ['wireguard']);
    expect(go.dataplanes[0]!.checks.find((c) => c.id === 'implementation')!.detail).toBe('wireguard-go at /usr/sbin/wireguard-go (kernel module not installed for this kernel)');
    const none = await runDoctor(fakeProbes({ files: noModule }), ['wireguard']);
    expect(none.dataplanes[0]!.checks.find((c) => c.id === 'implementation')).toMatchObject({ status: 'fail', package: 'wireguard-go' });
    expect(none.install).toEqual(['wireguard-go']);
    const available = { ...noModule, '/lib/modules/6.1.0-18-amd64/modules.dep': 'kernel/drivers/net/wireguard/wireguard.ko.xz: x\n' };
    const loadable = await runDoctor(fakeProbes({ files: available }), ['wireguard']);
    expect(loadable.dataplanes[0]!.checks.find((c) => c.id === 'implementation')!.detail).toBe('kernel module installed (the kernel loads it on first use)');
  });

  it('--dataplane limits the checks and the exit code to the dataplanes named', async () => {
    const host = fakeProbes({ tools: ['iptables-restore', 'iptables', 'ipset', 'ip', 'tc'] });
    const r = await run(['doctor', '--dataplane', 'iptables,ebpf', '--json'], { hostProbes: host });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { dataplanes: { name: string }[] }).dataplanes.map((d) => d.name)).toEqual(['iptables', 'ebpf']);
    expect((await run(['doctor', '--dataplane', 'wireguard'], { hostProbes: host })).code).toBe(1);
  });

  it('the legacy iptables backend is named', async () => {
    const report = await runDoctor(fakeProbes({ iptablesV: 'iptables v1.8.7 (legacy)\n' }), ['iptables']);
    expect(report.dataplanes[0]!.checks.find((c) => c.id === 'iptables-restore')!.detail).toBe('/usr/sbin/iptables-restore; backend legacy (iptables v1.8.7 (legacy))');
  });
});
