/**
 * `gingham enforce`: one-shot enforcement of one node's policy in this network namespace's
 * kernel, with the dataplane `--dataplane` names. One argument parser and one load → validate →
 * Engine → flush path for every dataplane; what differs between dataplanes (their flags, how to
 * create one, how to word its result and its clean report, how it waits for its instance lock)
 * is a row of `DATAPLANES`. The eBPF dataplane is imported only when it is asked for: it is an
 * optional dependency (its loader carries native code).
 *
 * Fail closed: everything is read, loaded and validated before the dataplane is created (or, for
 * eBPF, even imported), so bad input (a missing or refused path, a manifest with an error)
 * changes nothing. The command
 * exits 0 only when the dataplane's apply returned, i.e. what it programmed is in force and
 * outlives the command; a dataplane that cannot promise that refuses (exit 1) with the fix.
 *
 * Exit codes: 0 success, 1 error or refusal (bad input, a failed kernel operation, the instance
 * busy, missing privileges), 2 usage error.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  createEngine,
  describeRefusal,
  formatIssue,
  GinghamError,
  loadManifests,
  readManifestPaths,
  type Dataplane,
  type EngineStats,
  type LoadedResource,
} from '@gingham/core';
import type { CommandRunner } from '@gingham/host';
import { createIptablesDataplane, formatCleanReport, type GroupDispatch, type IptablesBackend } from '@gingham/dataplane-iptables';
import type { AttachMode, EbpfCleanReport } from '@gingham/dataplane-ebpf';
import { UsageError, type CliIo } from '../io.js';
import { readAtMost } from '../manifests.js';

/** Injection points of `gingham enforce` (tests, embedding). */
export interface EnforceCommandOptions {
  /** How the iptables dataplane runs `iptables-restore`, `ipset`… (default: in this process's network namespace). */
  readonly runner?: CommandRunner;
}

/** How long `gingham enforce` waits for another run on the same dataplane instance, seconds. */
export const DEFAULT_LOCK_WAIT_SECONDS = 10;

/** The dataplanes `gingham enforce --dataplane` accepts. */
export type EnforceDataplaneName = 'iptables' | 'ebpf';
/** Parsed flag values (`node:util` `parseArgs`), by long name without the dashes. */
export type EnforceFlagValues = Record<string, string | boolean | string[] | undefined>;
type Values = EnforceFlagValues;
type DataplaneName = EnforceDataplaneName;

/** A created dataplane, as the command drives it. */
export interface EnforceTarget {
  readonly dataplane: Dataplane;
  /** Removes everything of the instance; the report for people and for `--json`. */
  clean(): Promise<{ readonly text: string; readonly json: unknown }>;
  /** After a successful flush: the result line, its JSON, and warnings for stderr. */
  result(node: string, engine: EngineStats): { readonly text: string; readonly json: Record<string, unknown>; readonly warnings: readonly string[] };
  close(): Promise<void>;
}

/**
 * One row of the dataplane table: a dataplane's flags, how to check them, how to create it (and
 * its instance-lock wait), how to word its result and its clean report.
 */
export interface EnforceDataplane {
  readonly name: DataplaneName;
  /** Its own flags; giving one with another `--dataplane` is a usage error. */
  readonly options: Readonly<Record<string, { readonly type: 'string' | 'boolean' }>>;
  /** What it is, for the general help. */
  readonly summary: string;
  /** Its paragraph and option lines for `--help`. */
  readonly about: string;
  readonly optionHelp: string;
  readonly cleanHelp: string;
  /** Checks its flag values: a usage message, or undefined. */
  check(values: Values): string | undefined;
  /** Creates it; `lockWaitMs` bounds the wait for its instance lock (taken at the first change). */
  create(values: Values, context: { readonly lockWaitMs: number; readonly purpose: string; readonly runner?: CommandRunner }): Promise<EnforceTarget>;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The eBPF clean report as a person reads it: what was removed, or that nothing of ours was there, and orphans with their fix. */
export function formatEbpfCleanReport(r: EbpfCleanReport): string {
  const lines: string[] = [];
  if (r.nothingFound) {
    lines.push(r.noBpffs
      ? `gingham enforce: nothing to clean for ${r.pinPath}: no bpffs is mounted there, so nothing of Gingham's can be pinned (nothing was mounted to look).`
      : `gingham enforce: nothing of Gingham's found for ${r.pinPath} (no pins, no hooks); nothing was changed.`);
  } else {
    const hooks = r.detached.map((h) => `${h.ifname} ${h.direction} (${h.kind}${h.unrecorded ? ', unrecorded' : ''})`);
    lines.push(`gingham enforce: cleaned ${r.pinPath}:`);
    lines.push(`  detached ${plural(r.detached.length, 'hook')}${hooks.length > 0 ? `: ${hooks.join(', ')}` : ''}`);
    lines.push(`  deleted ${plural(r.qdiscsDeleted.length, 'clsact qdisc')}${r.qdiscsDeleted.length > 0 ? `: ${r.qdiscsDeleted.join(', ')}` : ''}`);
    lines.push(`  removed ${plural(r.pinsRemoved, 'pin')}${r.strayPinsRemoved.length > 0 ? `, and ${r.strayPinsRemoved.length} stray temporary pin(s): ${r.strayPinsRemoved.join(', ')}` : ''}`);
  }
  if (r.orphans.length > 0) {
    lines.push(`gingham enforce: warning: ${r.orphans.length} Gingham tc filter(s) here belong to no instance in this bpffs (left by a run whose pins vanished); left alone. Remove them with:`);
    for (const o of r.orphans) lines.push(`  ${o.command}`);
  }
  return lines.join('\n');
}

/**
 * The eBPF dataplane, imported only for `--dataplane ebpf`: it is an optional dependency (its
 * loader carries native code), so lint/check/matrix and iptables never load it.
 */
async function importEbpfDataplane(): Promise<typeof import('@gingham/dataplane-ebpf')> {
  try {
    return await import('@gingham/dataplane-ebpf');
  } catch (cause) {
    const e = cause as { code?: unknown; message?: unknown };
    if (e.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes("'@gingham/dataplane-ebpf'")) throw cause;
    throw new GinghamError(
      'EBPF_DATAPLANE_MISSING',
      'the eBPF dataplane is not installed (@gingham/dataplane-ebpf is an optional dependency of @gingham/cli): npm install @gingham/dataplane-ebpf, or use --dataplane iptables',
      { cause },
    );
  }
}

const str = (v: Values[string]): string | undefined => (typeof v === 'string' ? v : undefined);

const IPTABLES: EnforceDataplane = {
  name: 'iptables',
  options: { backend: { type: 'string' }, ipv6: { type: 'boolean' }, 'group-dispatch': { type: 'string' } },
  summary: 'Calico-style iptables chains and IP sets',
  about: `With --dataplane iptables (the default): Calico-style iptables chains and IP sets, written
atomically with iptables-restore and ipset. Unchanged chains are adopted by their rule ids, so a
second run changes nothing. One run at a time per network namespace.`,
  optionHelp: `  --backend nft|legacy     iptables backend (default: the system's iptables-restore).
  --ipv6                   Also program ip6tables.
  --group-dispatch chain|ipset
                           How endpoint chains reach their policy groups (default chain; ipset
                           picks them by IP set membership, so moves need no iptables commit).`,
  cleanHelp: `Remove every chain, hook rule and IP set Gingham added (IPv4 and IPv6,
                           nft and legacy), say what was removed, and exit.`,
  check(values) {
    const backend = str(values.backend);
    if (backend !== undefined && !['nft', 'legacy'].includes(backend)) return `unknown backend "${backend}" (nft, legacy)`;
    const dispatch = str(values['group-dispatch']);
    if (dispatch !== undefined && !['chain', 'ipset'].includes(dispatch)) return `unknown --group-dispatch "${dispatch}" (chain, ipset)`;
    return undefined;
  },
  async create(values, context) {
    const dataplane = createIptablesDataplane({
      ...(context.runner ? { runner: context.runner } : {}),
      backend: (str(values.backend) ?? 'default') as IptablesBackend,
      families: values.ipv6 === true ? [4, 6] : [4],
      groupDispatch: (str(values['group-dispatch']) ?? 'chain') as GroupDispatch,
      // One-shot: no persistent ipset session (it would only serve later label changes).
      ipsetSession: false,
      lock: { waitMs: context.lockWaitMs, purpose: context.purpose },
    });
    return {
      dataplane,
      async clean() {
        const report = await dataplane.clean();
        return { text: `gingham enforce: ${formatCleanReport(report)}`, json: report };
      },
      result(node, st) {
        const s = dataplane.stats();
        return {
          text: `gingham enforce: node ${node}: ${st.localEndpoints} endpoints, ${st.activePolicies} active policies, ${st.ipSets} IP sets; ` +
            `chains written ${s.chainsWritten}, deleted ${s.chainsDeleted}; sets created ${s.setsCreated}, destroyed ${s.setsDestroyed}`,
          json: { dataplane: 'iptables', node, ...st, ...s },
          warnings: [],
        };
      },
      close: () => dataplane.close(),
    };
  },
};

const EBPF: EnforceDataplane = {
  name: 'ebpf',
  options: { bpffs: { type: 'string' }, name: { type: 'string' }, mode: { type: 'string' } },
  summary: 'the eBPF datapath (tc programs and flat lookup maps)',
  about: `With --dataplane ebpf: the eBPF datapath, a tc program on ingress and egress of every endpoint
interface. The program and its maps stay in the kernel after exit (pinned in bpffs); running
again builds a new generation of the maps and swaps it in atomically. In a node's network
namespace, run it with \`nsenter --net=/run/netns/NODE gingham enforce ...\` (keeps the host's
/sys/fs/bpf); under \`ip netns exec\`, pass --bpffs DIR with a bpffs mounted on the host (\`ip
netns exec\` hides /sys/fs/bpf), or it refuses: pins made there would vanish with the command.
One run at a time per instance.`,
  optionHelp: `  --bpffs DIR              A mounted bpffs for the pins that outlives this command (default
                           /sys/fs/bpf, mounted when absent outside a private mount namespace).
  --name NAME              Instance name, [a-z0-9-]{1,32} (default "default"): pins go to
                           DIR/gingham/NAME/.
  --mode auto|tcx|tc       Attach with tcx links or tc filters (default auto: tcx when available).`,
  cleanHelp: `Detach every program, delete the qdiscs and remove every pin of the
                           instance, say what was removed, and exit.`,
  check(values) {
    const mode = str(values.mode) ?? 'auto';
    if (!['auto', 'tcx', 'tc'].includes(mode)) return `unknown mode "${mode}" (auto, tcx, tc)`;
    const name = str(values.name) ?? 'default';
    if (!/^[a-z0-9-]{1,32}$/.test(name)) return `--name "${name}" must match [a-z0-9-]{1,32}`;
    return undefined;
  },
  async create(values, context) {
    const { createEbpfDataplane } = await importEbpfDataplane();
    const bpffs = str(values.bpffs);
    const dataplane = createEbpfDataplane({
      name: str(values.name) ?? 'default',
      mode: (str(values.mode) ?? 'auto') as AttachMode,
      lockWaitMs: context.lockWaitMs,
      ...(bpffs !== undefined ? { bpffs } : {}),
    });
    return {
      dataplane,
      async clean() {
        const report = await dataplane.clean();
        return { text: formatEbpfCleanReport(report), json: report };
      },
      result(node, st) {
        const s = dataplane.stats();
        return {
          text: `gingham enforce: node ${node}: ${st.localEndpoints} endpoints, ${st.activePolicies} active policies, ${st.ipSets} IP sets; ` +
            `generation ${s.generation}${s.replacedGeneration !== undefined ? ` (replaced ${s.replacedGeneration})` : ''}, ` +
            `map writes ${s.mapWrites}, hooks ${s.attached.length}; pinned in ${dataplane.pinPath}`,
          json: { dataplane: 'ebpf', node, pinPath: dataplane.pinPath, ...st, ...s },
          warnings: s.pendingInterfaces.length > 0
            ? [`gingham enforce: warning: interfaces not found (not attached; run again once they exist): ${s.pendingInterfaces.join(', ')}`]
            : [],
        };
      },
      close: () => dataplane.close(),
    };
  },
};

/** The dataplanes `gingham enforce` drives, by `--dataplane` name (the first is the default). */
export const ENFORCE_DATAPLANES: readonly EnforceDataplane[] = [IPTABLES, EBPF];
const DATAPLANES = ENFORCE_DATAPLANES;

const COMMON_OPTIONS = {
  filename: { type: 'string', short: 'f', multiple: true },
  node: { type: 'string' },
  dataplane: { type: 'string' },
  clean: { type: 'boolean' },
  json: { type: 'boolean' },
  'lock-wait': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usageLines(dataplane: string): string {
  return `Usage: gingham enforce -f PATH... --node NAME [--dataplane ${dataplane}] [options]
       gingham enforce --clean [--dataplane ${dataplane}] [options]`;
}

const COMMON_HELP = `Enforce the policy for the workload and host endpoints of node NAME in this network namespace
(pods: spec.nodeName; WorkloadEndpoints and HostEndpoints: spec.node). Everything is loaded and
validated before the first kernel change, and nothing changes when the input has an error. The
rules stay after exit; running again converges. A second run on the same instance waits up to
--lock-wait seconds (default ${DEFAULT_LOCK_WAIT_SECONDS}), then stops naming the process that holds it.`;

const COMMON_OPTION_HELP = `  -f, --filename PATH...   Manifest files or directories (.yaml, .yml, .json), or - for standard
                           input; repeatable.
  --node NAME              The node whose endpoints to enforce.
  --lock-wait SECONDS      Wait this long for another run on the same instance (default ${DEFAULT_LOCK_WAIT_SECONDS}).
  --json                   Print the result (or the clean report) as one JSON object.`;

/** `gingham enforce --help`: both dataplanes, or the one `--dataplane` names. */
export function enforceHelp(dataplane?: DataplaneName): string {
  const rows = dataplane === undefined ? DATAPLANES : DATAPLANES.filter((d) => d.name === dataplane);
  const which = dataplane ?? DATAPLANES.map((d) => d.name).join('|');
  const choose = dataplane === undefined
    ? `\n\n${DATAPLANES.map((d, i) => `  --dataplane ${`${d.name}${i === 0 ? ' (default)' : ''}:`.padEnd(20)}${d.summary}.`).join('\n')}
  Check the host first with: gingham doctor --dataplane iptables (or ebpf)`
    : '';
  const sections = rows.map((d) => `${d.about}

Options of --dataplane ${d.name}:
${d.optionHelp}
  --clean                  ${d.cleanHelp}`);
  return `${usageLines(which)}

${COMMON_HELP}${choose}

Options:
${COMMON_OPTION_HELP}
  --dataplane ${which.padEnd(13)}The dataplane (default ${DATAPLANES[0]!.name}).

${sections.join('\n\n')}`;
}

/** The value of `--dataplane X` / `--dataplane=X` (the last one given), before full parsing. */
function dataplaneArgument(argv: readonly string[]): string | undefined {
  let value: string | undefined;
  argv.forEach((a, i) => {
    if (a === '--dataplane' && argv[i + 1] !== undefined) value = argv[i + 1]!;
    else if (a.startsWith('--dataplane=')) value = a.slice('--dataplane='.length);
  });
  return value;
}

/**
 * Reads, loads and validates every manifest of `paths` (`-` is standard input). Returns the
 * resources, or undefined when anything is missing, refused or has an error (each said on
 * stderr, ending in "nothing was changed"): then no dataplane is even created.
 */
export async function readEnforceInput(paths: readonly string[], io: CliIo): Promise<LoadedResource[] | undefined> {
  const read = await readManifestPaths(paths, { readdir, stat, open }, io.stdin ? { stdin: (max) => readAtMost(io.stdin!(), max) } : {});
  for (const path of read.missing) io.stderr(`gingham enforce: no such file or directory: ${path}; nothing was changed`);
  for (const refused of read.refused) io.stderr(`gingham enforce: ${describeRefusal(refused)}; nothing was changed`);
  if (read.missing.length > 0 || read.refused.length > 0) return undefined;
  const loaded = loadManifests(read.inputs);
  for (const issue of loaded.issues) io.stderr(formatIssue(issue));
  if (!loaded.ok) {
    io.stderr('gingham enforce: the manifests have errors; nothing was changed');
    return undefined;
  }
  return loaded.resources;
}

/**
 * Feeds node `node`'s Engine with `resources` and flushes it into `dataplane` (one in-sync
 * batch); warns on stderr when the node has no endpoints. Errors of the dataplane propagate.
 */
export async function flushNode(resources: readonly LoadedResource[], node: string, dataplane: Dataplane, io: CliIo): Promise<EngineStats> {
  const engine = createEngine({ node, dataplane });
  for (const r of resources) engine.upsert(r.resource);
  await engine.flush();
  const stats = engine.state();
  if (stats.localEndpoints === 0) io.stderr(`gingham enforce: warning: node "${node}" has no endpoints in these manifests`);
  return stats;
}

/** Runs `gingham enforce` with the arguments after `enforce`; returns the exit code. */
export async function enforceCommand(argv: readonly string[], io: CliIo, options: EnforceCommandOptions = {}): Promise<number> {
  const asked = dataplaneArgument(argv);
  const row = DATAPLANES.find((d) => d.name === (asked ?? DATAPLANES[0]!.name));
  if (!row) throw new UsageError(`unsupported dataplane "${asked}" (supported: ${DATAPLANES.map((d) => d.name).join(', ')})`);
  const all = Object.assign({}, COMMON_OPTIONS, ...DATAPLANES.map((d) => d.options)) as typeof COMMON_OPTIONS;
  const { values } = parseArgs({ args: [...argv], options: all, strict: true, allowPositionals: false }) as { values: Values };
  if (values.help === true) {
    io.stdout(enforceHelp(asked === undefined ? undefined : row.name));
    return 0;
  }
  for (const other of DATAPLANES) {
    if (other === row) continue;
    const given = Object.keys(other.options).find((k) => values[k] !== undefined && !(k in row.options));
    if (given) throw new UsageError(`--${given} is an option of --dataplane ${other.name}, not ${row.name}`);
  }
  const problem = row.check(values);
  if (problem) throw new UsageError(problem);
  const lockWaitText = str(values['lock-wait']) ?? String(DEFAULT_LOCK_WAIT_SECONDS);
  const lockWait = Number(lockWaitText);
  if (lockWaitText.trim() === '' || !Number.isFinite(lockWait) || lockWait < 0) throw new UsageError(`--lock-wait "${lockWaitText}" must be a number of seconds`);
  const clean = values.clean === true;
  const files = (values.filename as string[] | undefined) ?? [];
  const node = str(values.node);
  if (!clean) {
    if (files.length === 0) throw new UsageError('-f PATH is required');
    if (!node) throw new UsageError('--node NAME is required');
  }
  const context = {
    lockWaitMs: lockWait * 1000,
    purpose: `gingham enforce ${argv.join(' ')}`.slice(0, 300),
    ...(options.runner ? { runner: options.runner } : {}),
  };
  const json = values.json === true;

  if (clean) {
    const target = await row.create(values, context);
    let report: { text: string; json: unknown };
    try {
      report = await target.clean();
    } finally {
      await target.close();
    }
    io.stdout(json ? JSON.stringify(report.json) : report.text);
    return 0;
  }

  const resources = await readEnforceInput(files, io);
  if (!resources) return 1;
  const target = await row.create(values, context);
  let result: ReturnType<EnforceTarget['result']>;
  try {
    result = target.result(node!, await flushNode(resources, node!, target.dataplane, io));
  } finally {
    await target.close();
  }
  for (const w of result.warnings) io.stderr(w);
  io.stdout(json ? JSON.stringify(result.json) : result.text);
  return 0;
}
