/**
 * `gingham enforce ... --dataplane ebpf`: one-shot enforcement for the endpoints of one node in
 * the current network namespace, from manifests, with the eBPF datapath. Everything is loaded
 * and validated before the first kernel change; the program stays attached after exit (pinned
 * tcx links or tc filters) and a second run converges by building a new generation and swapping
 * it in atomically. `--clean` detaches and unpins everything of the instance and says what it
 * removed.
 *
 * It exits 0 only when what it programmed outlives it: run inside `ip netns exec` (a private
 * mount namespace that vanishes with the command) without a bpffs shared with the host, it
 * refuses before any change and prints the commands that fix it. One run at a time per
 * instance: a second waits for the instance lock (`--lock-wait`, default 10 s), then refuses
 * naming the holder.
 *
 * Exit codes: 0 success, 1 error or refusal (bad input, a failed kernel operation, pins that
 * would not persist, missing privileges, the instance busy), 2 usage error.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { enforceOnce } from '@gingham/core';
import { createEbpfDataplane, type AttachMode, type EbpfCleanReport } from './dataplane/dataplane.js';

export interface EbpfEnforceIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

export const EBPF_ENFORCE_HELP = `Usage: gingham enforce -f PATH... --node NAME --dataplane ebpf [options]
       gingham enforce --clean --dataplane ebpf [options]

Enforce the policy for the workload and host endpoints of node NAME in this network namespace
with the eBPF datapath (a tc program on ingress and egress of every endpoint interface). The
program and its maps stay in the kernel after exit (pinned in bpffs); running again builds a new
generation of the maps and swaps it in atomically. In a node's network namespace, run it with
\`nsenter --net=/run/netns/NODE gingham enforce ...\` (keeps the host's /sys/fs/bpf); under
\`ip netns exec\`, pass --bpffs DIR with a bpffs mounted on the host (\`ip netns exec\` hides
/sys/fs/bpf), or it refuses: pins made there would vanish with the command.

Options:
  -f, --filename PATH...   Manifest files or directories (.yaml, .yml, .json); repeatable.
  --node NAME              The node whose endpoints to enforce.
  --dataplane ebpf         The eBPF dataplane.
  --bpffs DIR              A mounted bpffs for the pins that outlives this command (default
                           /sys/fs/bpf, mounted when absent outside a private mount namespace).
  --name NAME              Instance name, [a-z0-9-]{1,32} (default "default"): pins go to
                           DIR/gingham/NAME/.
  --mode auto|tcx|tc       Attach with tcx links or tc filters (default auto: tcx when available).
  --lock-wait SECONDS      Wait this long for another run on the same instance (default 10).
  --json                   Print the result as one JSON object.
  --clean                  Detach every program, delete the qdiscs and remove every pin of the
                           instance, say what was removed, and exit.`;

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
      'lock-wait': { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
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
  const lockWait = Number(values['lock-wait']);
  if (!Number.isFinite(lockWait) || lockWait < 0) return usage(`--lock-wait "${values['lock-wait']}" must be a number of seconds`);
  const dataplane = createEbpfDataplane({
    name: values.name,
    mode: values.mode as AttachMode,
    lockWaitMs: lockWait * 1000,
    ...(values.bpffs !== undefined ? { bpffs: values.bpffs } : {}),
  });
  if (values.clean) {
    let report: EbpfCleanReport;
    try {
      report = await dataplane.clean();
    } finally {
      await dataplane.close();
    }
    io.stdout(values.json ? JSON.stringify(report) : formatCleanReport(report));
    return 0;
  }
  const files = values.filename ?? [];
  if (files.length === 0) return usage('-f PATH is required');
  if (!values.node) return usage('--node NAME is required');

  let st;
  try {
    st = await enforceOnce({ paths: files, node: values.node, dataplane, fs: { readdir, stat, open }, report: io.stderr, command: 'gingham enforce' });
  } finally {
    await dataplane.close();
  }
  if (!st) return 1;
  const s = dataplane.stats();
  if (s.pendingInterfaces.length > 0) {
    io.stderr(`gingham enforce: warning: interfaces not found (not attached; run again once they exist): ${s.pendingInterfaces.join(', ')}`);
  }
  if (values.json) {
    io.stdout(JSON.stringify({ node: values.node, pinPath: dataplane.pinPath, ...st, ...s }));
    return 0;
  }
  io.stdout(
    `gingham enforce: node ${values.node}: ${st.localEndpoints} endpoints, ${st.activePolicies} active policies, ${st.ipSets} IP sets; ` +
      `generation ${s.generation}${s.replacedGeneration !== undefined ? ` (replaced ${s.replacedGeneration})` : ''}, ` +
      `map writes ${s.mapWrites}, hooks ${s.attached.length}; pinned in ${dataplane.pinPath}`,
  );
  return 0;
}

/** `--clean`'s report as a person reads it: what was removed, or that nothing of ours was there. */
export function formatCleanReport(r: EbpfCleanReport): string {
  const lines: string[] = [];
  if (r.nothingFound) {
    lines.push(r.noBpffs
      ? `gingham enforce: nothing to clean for ${r.pinPath}: no bpffs is mounted there, so nothing of Gingham's can be pinned (nothing was mounted to look).`
      : `gingham enforce: nothing of Gingham's found for ${r.pinPath} (no pins, no hooks); nothing was changed.`);
  } else {
    const hooks = r.detached.map((h) => `${h.ifname} ${h.direction} (${h.kind}${h.unrecorded ? ', unrecorded' : ''})`);
    lines.push(`gingham enforce: cleaned ${r.pinPath}:`);
    lines.push(`  detached ${r.detached.length} hook${r.detached.length === 1 ? '' : 's'}${hooks.length > 0 ? `: ${hooks.join(', ')}` : ''}`);
    lines.push(`  deleted ${r.qdiscsDeleted.length} clsact qdisc${r.qdiscsDeleted.length === 1 ? '' : 's'}${r.qdiscsDeleted.length > 0 ? `: ${r.qdiscsDeleted.join(', ')}` : ''}`);
    lines.push(`  removed ${r.pinsRemoved} pin${r.pinsRemoved === 1 ? '' : 's'}${r.strayPinsRemoved.length > 0 ? `, and ${r.strayPinsRemoved.length} stray temporary pin(s): ${r.strayPinsRemoved.join(', ')}` : ''}`);
  }
  if (r.orphans.length > 0) {
    lines.push(`gingham enforce: warning: ${r.orphans.length} Gingham tc filter(s) here belong to no instance in this bpffs (left by a run whose pins vanished); left alone. Remove them with:`);
    for (const o of r.orphans) lines.push(`  ${o.command}`);
  }
  return lines.join('\n');
}
