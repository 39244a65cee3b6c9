import { parseArgs } from 'node:util';
import { UsageError, type CliIo } from '../io.js';
import { formatDoctor, runDoctor, type DataplaneName } from './doctor.js';
import { createHostProbes, type HostProbes } from './probes.js';

export const doctorHelp = `gingham doctor [--dataplane iptables|ebpf|wireguard]... [--json]

Checks this host for what each dataplane needs: privileges (root, CAP_NET_ADMIN, CAP_BPF or
CAP_SYS_ADMIN), the kernel (version, bpf() syscall and map types, JIT, BTF, tcx, tc clsact,
ip_set and wireguard modules), a persistent bpffs at /sys/fs/bpf, and the tools (iptables-restore
and its backend, ipset, conntrack, ip, tc, wg, wireguard-go), naming the Debian package of each
missing tool. It only looks: it never mounts, loads a module, attaches a program or adds a rule.

Exit codes: 0 every dataplane checked can run, 1 one cannot, 2 usage.`;

const NAMES = new Set<DataplaneName>(['iptables', 'ebpf', 'wireguard']);

export async function doctorCommand(argv: string[], io: CliIo, probes?: HostProbes): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, dataplane: { type: 'string', multiple: true } },
    strict: true,
  });
  const only = (values.dataplane ?? []).flatMap((d) => d.split(',')).map((d) => d.trim());
  for (const d of only) if (!NAMES.has(d as DataplaneName)) throw new UsageError(`unknown dataplane "${d}" (iptables, ebpf, wireguard)`);
  const report = await runDoctor(probes ?? createHostProbes(), only as DataplaneName[]);
  io.stdout(values.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
  return report.ready ? 0 : 1;
}
