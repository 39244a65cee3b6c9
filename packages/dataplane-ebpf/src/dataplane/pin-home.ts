/**
 * Decides, before anything is attached or pinned, whether the dataplane's pins will outlive this
 * process, and refuses with the exact commands that fix it when they would not. Reads /proc and
 * statfs only; never mounts (the caller mounts /sys/fs/bpf when told `mount`).
 *
 * The rules (the loader's `inspectBpffs` supplies the facts):
 *   - a bpffs that outlives this process's mount namespace (mounted in a long-lived namespace, or
 *     the same superblock mounted in the reference namespace too): use it;
 *   - a bpffs mounted only inside a private namespace (say, mounted inside `ip netns exec`): refuse;
 *   - `bpffs` given explicitly but not a bpffs (missing, an ordinary directory): refuse, never
 *     mount there;
 *   - the default /sys/fs/bpf not mounted: mount it when this is a long-lived namespace (as
 *     systemd does at boot); refuse from a private or unknown one (`ip netns exec` replaces /sys,
 *     hiding the host's bpffs, and a bpffs mounted there would die with the command). `clean`
 *     in a long-lived namespace then knows nothing can have been pinned.
 * A bpffs whose namespace cannot be compared with anything (this process is PID 1 of its PID
 * namespace) is used when already mounted, never mounted.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { BPFFS, inspectBpffs, type BpffsInspection } from '@gingham/ebpf-loader';
import { EbpfDataplaneError } from './errors.js';

/** What to do with the bpffs: use it, mount /sys/fs/bpf first, or (clean only) nothing can be pinned. */
export interface PinHome {
  readonly action: 'use' | 'mount' | 'absent';
  readonly inspection: BpffsInspection;
}

/** A suggested host directory for a bpffs that `ip netns exec` does not hide (/sys is replaced there, /run is not). */
export const HOST_BPFFS_SUGGESTION = '/run/gingham/bpffs';

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A word as a POSIX shell reads it back. */
export function shellWord(s: string): string {
  return SAFE_WORD.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      const p = join(dir, name);
      if (statSync(p).isFile()) return realpathSync(p);
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * This process's command line as a person would type it again: the script by its name when
 * PATH finds the same file (`gingham enforce …`), else `node /path/to/script …`. Arguments with
 * `--bpffs`/`--bpffs=…` are dropped when `withoutBpffs` (for a fix that supplies its own).
 */
export function rerunCommand(options: { readonly withoutBpffs?: boolean; readonly extra?: readonly string[] } = {}): string {
  const script = process.argv[1];
  let args = process.argv.slice(2);
  if (options.withoutBpffs) {
    const out: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '--bpffs') i++;
      else if (!args[i]!.startsWith('--bpffs=')) out.push(args[i]!);
    }
    args = out;
  }
  let head: string[];
  if (script === undefined) head = ['node'];
  else {
    const name = basename(script).replace(/\.js$/, '');
    let same = false;
    try {
      same = onPath(name) === realpathSync(script);
    } catch {
      same = false;
    }
    head = same ? [name] : ['node', script];
  }
  return [...head, ...args, ...(options.extra ?? [])].map(shellWord).join(' ');
}

/** The name under /run/netns of this process's network namespace, when it has one. */
export function currentNetnsName(): string | undefined {
  try {
    const self = statSync('/proc/self/ns/net');
    for (const name of readdirSync('/run/netns')) {
      try {
        const s = statSync(join('/run/netns', name));
        if (s.ino === self.ino && s.dev === self.dev) return name;
      } catch {
        // a stale entry
      }
    }
  } catch {
    // no /run/netns
  }
  return undefined;
}

function whereIs(i: BpffsInspection): string {
  if (!i.exists) return 'does not exist';
  return `is on a filesystem of type ${i.fsType ?? 'unknown'}${i.mountPoint ? ` (mounted at ${i.mountPoint})` : ''}, not a bpffs`;
}

function nsWords(i: BpffsInspection): string {
  return i.namespace.kind === 'private'
    ? `this process runs in a private mount namespace (${i.namespace.self}; \`ip netns exec\` makes one, and it vanishes when the command exits)`
    : `this process's mount namespace cannot be compared with a long-lived one (${i.namespace.self})`;
}

/** The commands that make pins persist, for a refusal message. */
function fixes(i: BpffsInspection, explicit: boolean): string[] {
  const netns = currentNetnsName();
  const host = netns ? `on the host (outside \`ip netns exec ${netns}\`)` : 'on the host, outside this mount namespace';
  const nsenter = `nsenter --net=/run/netns/${netns ?? 'NODE'} ${rerunCommand({ withoutBpffs: true })}`;
  if (i.namespace.kind === 'long-lived') {
    return [
      `mount a bpffs there first: mkdir -p ${shellWord(i.path)} && mount -t bpf bpffs ${shellWord(i.path)}`,
      `or use the default /sys/fs/bpf (mounted when absent): ${rerunCommand({ withoutBpffs: true })}`,
    ];
  }
  const target = explicit ? i.path : HOST_BPFFS_SUGGESTION;
  return [
    `enter only the network namespace, keeping the host's mounts (pins go to its /sys/fs/bpf): ${nsenter}`,
    `or mount a bpffs ${host} and pass it: mkdir -p ${shellWord(target)} && mount -t bpf bpffs ${shellWord(target)}; then ` +
      `${netns ? `ip netns exec ${netns} ` : ''}${rerunCommand({ withoutBpffs: true, extra: ['--bpffs', target] })}`,
  ];
}

function refuse(code: 'EBPF_BPFFS_NOT_PERSISTENT' | 'EBPF_BPFFS_INVALID', what: string, i: BpffsInspection, explicit: boolean): never {
  const f = fixes(i, explicit);
  throw new EbpfDataplaneError(code, `${what} Nothing was changed. To fix it:\n${f.map((x) => `  ${x}`).join('\n')}`, { detail: f });
}

/**
 * Checks where pins go (see the file header). Throws `EBPF_BPFFS_NOT_PERSISTENT` or
 * `EBPF_BPFFS_INVALID` (with the fixes in `detail`); returns what to do otherwise.
 */
export function checkPinHome(options: { readonly bpffs: string; readonly explicit: boolean; readonly purpose: 'enforce' | 'clean' }): PinHome {
  const { bpffs, explicit, purpose } = options;
  const i = inspectBpffs(bpffs);
  const verb = purpose === 'enforce' ? 'cannot enforce with pins under' : 'cannot clean pins under';
  if (i.isBpffs) {
    if (i.persistent === false) {
      refuse('EBPF_BPFFS_NOT_PERSISTENT', `gingham: the eBPF dataplane ${verb} ${bpffs}: it is a bpffs mounted only in this process's private mount namespace ` +
        `(${i.namespace.self}), so it and every program it holds would vanish when this command exits.`, i, explicit);
    }
    return { action: 'use', inspection: i };
  }
  if (explicit) {
    refuse('EBPF_BPFFS_INVALID', `gingham: the eBPF dataplane ${verb} ${bpffs}: it ${whereIs(i)}; --bpffs must name a mounted bpffs.`, i, explicit);
  }
  if (i.namespace.kind === 'long-lived' && bpffs === BPFFS) return { action: purpose === 'enforce' ? 'mount' : 'absent', inspection: i };
  if (i.namespace.kind === 'long-lived') {
    refuse('EBPF_BPFFS_INVALID', `gingham: the eBPF dataplane ${verb} ${bpffs}: it ${whereIs(i)}.`, i, explicit);
  }
  refuse('EBPF_BPFFS_NOT_PERSISTENT', `gingham: the eBPF dataplane ${verb} ${bpffs}: ${nsWords(i)}, and ${bpffs} here ${whereIs(i)} — ` +
    `a bpffs mounted here would vanish with the command, and every program with it (the host's /sys/fs/bpf is hidden: \`ip netns exec\` remounts /sys).`, i, explicit);
}
