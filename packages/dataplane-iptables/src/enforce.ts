/**
 * `gingham enforce ... --dataplane iptables`: one-shot enforcement for the endpoints of one node
 * in the current network namespace, from manifests. Everything is loaded and validated before
 * the first kernel change; the state stays in the kernel after exit and a second run converges
 * (unchanged chains are adopted by their rule ids). `--clean` removes everything Gingham added,
 * in both address families and both iptables backends, and says what it removed. One run at a
 * time per network namespace: a second waits up to `ENFORCE_LOCK_WAIT_MS` for the instance lock,
 * then refuses naming the holder (exit 1).
 *
 * Exit codes: 0 success, 1 error (bad input or a failed command), 2 usage error.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { enforceOnce } from '@gingham/core';
import type { CommandRunner } from '@gingham/host';
import { formatCleanReport } from './apply/clean.js';
import { createIptablesDataplane, type IptablesBackend } from './apply/dataplane.js';

export interface EnforceIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

export interface EnforceOptions {
  /** How commands run (default: this process's network namespace). */
  readonly runner?: CommandRunner;
  /** How long to wait for another run on this instance to finish (default `ENFORCE_LOCK_WAIT_MS`). */
  readonly lockWaitMs?: number;
}

/** How long `gingham enforce` waits for another run in the same network namespace (10 s). */
export const ENFORCE_LOCK_WAIT_MS = 10_000;

export const ENFORCE_HELP = `Usage: gingham enforce -f PATH... --node NAME [--dataplane iptables] [options]
       gingham enforce --clean [--dataplane iptables] [options]

Enforce the policy for the workload and host endpoints of node NAME in this network namespace
(pods: spec.nodeName; WorkloadEndpoints and HostEndpoints: spec.node). The rules stay after exit;
running again converges. One run at a time per network namespace: another waits up to 10 s, then
stops naming the process that holds it.

Options:
  -f, --filename PATH...   Manifest files or directories (.yaml, .yml, .json); repeatable.
  --node NAME              The node whose endpoints to enforce.
  --dataplane iptables     This dataplane (the default; --dataplane ebpf has its own options).
  --backend nft|legacy     iptables backend (default: the system's iptables-restore).
  --ipv6                   Also program ip6tables.
  --clean                  Remove every chain, hook rule and IP set Gingham added (IPv4 and IPv6,
                           nft and legacy), say what was removed, and exit.`;

/** Runs `gingham enforce` with the arguments after `enforce`; returns the exit code. */
export async function runEnforceCommand(argv: readonly string[], io: EnforceIo, options: EnforceOptions = {}): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      filename: { type: 'string', short: 'f', multiple: true },
      node: { type: 'string' },
      dataplane: { type: 'string', default: 'iptables' },
      backend: { type: 'string', default: 'default' },
      ipv6: { type: 'boolean', default: false },
      clean: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(ENFORCE_HELP);
    return 0;
  }
  const usage = (msg: string): number => {
    io.stderr(`gingham enforce: ${msg}\nrun 'gingham enforce --help' for usage`);
    return 2;
  };
  if (values.dataplane !== 'iptables') return usage(`unsupported dataplane "${values.dataplane}" (supported: iptables)`);
  if (!['default', 'nft', 'legacy'].includes(values.backend)) return usage(`unknown backend "${values.backend}" (nft, legacy)`);
  const dataplane = createIptablesDataplane({
    ...(options.runner ? { runner: options.runner } : {}),
    backend: values.backend as IptablesBackend,
    families: values.ipv6 ? [4, 6] : [4],
    // One-shot: no persistent ipset session (it would only serve later label changes).
    ipsetSession: false,
    lock: { waitMs: options.lockWaitMs ?? ENFORCE_LOCK_WAIT_MS, purpose: `gingham enforce ${argv.join(' ')}`.slice(0, 300) },
  });
  if (values.clean) {
    try {
      io.stdout(`gingham enforce: ${formatCleanReport(await dataplane.clean())}`);
    } finally {
      await dataplane.close();
    }
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
  const changes = dataplane.stats();
  io.stdout(
    `gingham enforce: node ${values.node}: ${st.localEndpoints} endpoints, ${st.activePolicies} active policies, ${st.ipSets} IP sets; ` +
      `chains written ${changes.chainsWritten}, deleted ${changes.chainsDeleted}; sets created ${changes.setsCreated}, destroyed ${changes.setsDestroyed}`,
  );
  return 0;
}
