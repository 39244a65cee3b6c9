/**
 * `gingham enforce ... --dataplane ebpf`: one-shot enforcement for the endpoints of one node in
 * the current network namespace, from manifests, with the eBPF datapath. Everything is loaded
 * and validated before the first kernel change; the program stays attached after exit (pinned
 * tcx links or tc filters) and a second run converges by building a new generation and swapping
 * it in atomically. `--clean` detaches and unpins everything of the instance.
 *
 * Exit codes: 0 success, 1 error (bad input or a failed kernel operation), 2 usage error.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { enforceOnce } from '@gingham/core';
import { createEbpfDataplane, type AttachMode } from './dataplane/dataplane.js';

export interface EbpfEnforceIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

export const EBPF_ENFORCE_HELP = `Usage: gingham enforce -f PATH... --node NAME --dataplane ebpf [options]
       gingham enforce --clean --dataplane ebpf [options]

Enforce the policy for the workload and host endpoints of node NAME in this network namespace
with the eBPF datapath (a tc program on ingress and egress of every endpoint interface). The
program and its maps stay in the kernel after exit (pinned in bpffs); running again builds a new
generation of the maps and swaps it in atomically.

Options:
  -f, --filename PATH...   Manifest files or directories (.yaml, .yml, .json); repeatable.
  --node NAME              The node whose endpoints to enforce.
  --dataplane ebpf         The eBPF dataplane.
  --bpffs DIR              bpffs mount for the pins (default /sys/fs/bpf, mounted when absent).
  --name NAME              Instance name, [a-z0-9-]{1,32} (default "default"): pins go to
                           DIR/gingham/NAME/.
  --mode auto|tcx|tc       Attach with tcx links or tc filters (default auto: tcx when available).
  --clean                  Detach every program and remove every pin of the instance, and exit.`;

/** Runs `gingham enforce --dataplane ebpf` with the arguments after `enforce`; returns the exit code. */
export async function runEbpfEnforceCommand(argv: readonly string[], io: EbpfEnforceIo): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      filename: { type: 'string', short: 'f', multiple: true },
      node: { type: 'string' },
      dataplane: { type: 'string', default: 'ebpf' },
      bpffs: { type: 'string' },
      name: { type: 'string', default: 'default' },
      mode: { type: 'string', default: 'auto' },
      clean: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(EBPF_ENFORCE_HELP);
    return 0;
  }
  const usage = (msg: string): number => {
    io.stderr(`gingham enforce: ${msg}\nrun 'gingham enforce --help' for usage`);
    return 2;
  };
  if (values.dataplane !== 'ebpf') return usage(`unsupported dataplane "${values.dataplane}" here (this is the ebpf dataplane)`);
  if (!['auto', 'tcx', 'tc'].includes(values.mode)) return usage(`unknown mode "${values.mode}" (auto, tcx, tc)`);
  if (!/^[a-z0-9-]{1,32}$/.test(values.name)) return usage(`--name "${values.name}" must match [a-z0-9-]{1,32}`);
  const dataplane = createEbpfDataplane({
    name: values.name,
    mode: values.mode as AttachMode,
    ...(values.bpffs !== undefined ? { bpffs: values.bpffs } : {}),
  });
  if (values.clean) {
    await dataplane.clean();
    io.stdout(`gingham enforce: detached every Gingham eBPF program and removed ${dataplane.pinPath}`);
    return 0;
  }
  const files = values.filename ?? [];
  if (files.length === 0) return usage('-f PATH is required');
  if (!values.node) return usage('--node NAME is required');

  let st;
  try {
    st = await enforceOnce({ paths: files, node: values.node, dataplane, fs: { readdir, stat, open }, report: io.stderr, command: 'gingham enforce' });
  } finally {
    dataplane.close();
  }
  if (!st) return 1;
  const s = dataplane.stats();
  if (s.pendingInterfaces.length > 0) {
    io.stderr(`gingham enforce: warning: interfaces not found (not attached; run again once they exist): ${s.pendingInterfaces.join(', ')}`);
  }
  io.stdout(
    `gingham enforce: node ${values.node}: ${st.localEndpoints} endpoints, ${st.activePolicies} active policies, ${st.ipSets} IP sets; ` +
      `generation ${s.generation}${s.replacedGeneration !== undefined ? ` (replaced ${s.replacedGeneration})` : ''}, ` +
      `map writes ${s.mapWrites}, hooks ${s.attached.length}`,
  );
  return 0;
}
