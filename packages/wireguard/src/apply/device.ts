/**
 * The life of the device itself: who owns the interface name (never adopt: an interface without
 * our state record, or a wireguard-go socket of another namespace, is refused), creating it
 * (kernel module, else wireguard-go started in the foreground and recorded by pid), and taking
 * it down with its routes and rule. Everything kernel-facing goes through the handle's runner;
 * the state, pid and /proc files are local (machine-wide anyway).
 */
import { CommandFailedError, debianPackageOf, NotSupportedError, runChecked, ToolMissingError } from '@gingham/host';
import { WireguardError } from '../errors.js';
import { detectWireguard } from './detect.js';
import { isWireguardRule, readLink, readRoutes, readRules, ruleArgs, type LinkInfo } from './ip.js';
import type { ResolvedOptions } from './options.js';
import type { DownResult } from './result.js';
import { ensureStateDir, readPidFile, readState, removeFiles, writePidFile, type InterfaceState, type StatePaths } from './state.js';
import type { DaemonSupervisor } from './supervisor.js';
import { checkSocketOwnership, isAlive, startWireguardGo, stopProcess } from './userspace.js';

/** Where the device lives: the namespace (by inode) and the paths of its state files. */
export interface DeviceHome {
  readonly netns: string;
  readonly paths: StatePaths;
}

/**
 * Establishes ownership of the name: returns our state record (undefined when the name is
 * unused here). Throws `WG_INTERFACE_NOT_OURS` for an interface we did not create or that is not
 * WireGuard, `WG_INTERFACE_NAME_TAKEN` when another namespace's (or an unknown) wireguard-go
 * holds the name.
 */
export async function establishOwnership(o: ResolvedOptions, home: DeviceHome, link: LinkInfo | undefined): Promise<InterfaceState | undefined> {
  const state = await readState(home.paths);
  const pidHint = state?.pid ?? (await readPidFile(home.paths.pidFile));
  const owner = await checkSocketOwnership(o.name, home.netns, o.hostPaths, pidHint);
  if (link) {
    if (!state) {
      throw new WireguardError(
        'WG_INTERFACE_NOT_OURS',
        `interface ${o.name} already exists in ${o.runner.description} and was not created by gingham; refusing to reconfigure it (choose another --interface, or remove it)`,
      );
    }
    if (link.kind !== 'wireguard' && link.kind !== 'tun') {
      throw new WireguardError('WG_INTERFACE_NOT_OURS', `interface ${o.name} in ${o.runner.description} is a ${link.kind} device, not WireGuard; refusing to touch it`);
    }
  } else if (owner.kind === 'this-namespace') {
    // A wireguard-go for this name runs here but its TUN is gone: it is not ours to reuse.
    if (!state || owner.pid !== state.pid) {
      throw new WireguardError('WG_INTERFACE_NAME_TAKEN', `interface name ${o.name} is held by wireguard-go pid ${owner.pid} that gingham did not start; choose another --interface`);
    }
  }
  return state;
}

/**
 * Creates the device: `ip link add … type wireguard` when the kernel module is there (and the mode
 * allows), else wireguard-go, whose pid is recorded and, when attached, supervised.
 */
export async function createDevice(o: ResolvedOptions, paths: StatePaths, prior: InterfaceState | undefined, supervisor: DaemonSupervisor): Promise<{ mode: 'kernel' | 'userspace'; pid?: number }> {
  // A previous wireguard-go of ours that lost its device: stop it before starting anew.
  if (prior?.pid !== undefined && (await isAlive(prior.pid, o.hostPaths.procDir))) await stopProcess(prior.pid, o.name, o.hostPaths);
  let want: 'kernel' | 'userspace' = o.mode === 'userspace' ? 'userspace' : 'kernel';
  const caps = await detectWireguard(o.runner, { wireguardGo: o.wireguardGo });
  if (!caps.wg) throw new ToolMissingError('wg', debianPackageOf('wg'), `in ${o.runner.description}`);
  if (want === 'kernel' && !caps.kernel) {
    if (o.mode === 'kernel') throw new NotSupportedError('wireguard-kernel', 'the WireGuard kernel module is not available (no generic netlink family "wireguard")');
    want = 'userspace';
  }
  if (want === 'kernel') {
    const argv = ['ip', 'link', 'add', 'dev', o.name, 'type', 'wireguard'];
    const res = await o.runner.run(argv);
    if (res.code === 0) return { mode: 'kernel' };
    if (o.mode === 'kernel' || !/Unknown device type|not supported/i.test(res.stderr)) throw new CommandFailedError(argv, res);
  }
  if (!caps.userspace) {
    throw new NotSupportedError(
      'wireguard-go',
      `neither the WireGuard kernel module nor wireguard-go is available in ${o.runner.description}; install wireguard-go (apt-get install --no-install-recommends wireguard-go) or load the wireguard module`,
    );
  }
  await ensureStateDir(o.stateDir);
  const child = await startWireguardGo(o.runner, o.name, {
    binary: o.wireguardGo,
    logFile: paths.logFile,
    detached: o.detach,
    paths: o.hostPaths,
    linkExists: async () => (await readLink(o.runner, o.name)) !== undefined,
  });
  await writePidFile(paths.pidFile, child.pid);
  o.emit({ kind: 'daemon-started', pid: child.pid });
  if (!o.detach) supervisor.watch(child.pid, child.exited);
  return { mode: 'userspace', pid: child.pid };
}

/**
 * Removes the interface, its routes and rule, and stops wireguard-go (by pid, after checking it
 * still is ours). Throws `WG_INTERFACE_NOT_FOUND` when there is nothing here, and
 * `WG_INTERFACE_NOT_OURS` for an interface gingham did not create.
 */
export async function takeDown(o: ResolvedOptions, home: DeviceHome, supervisor: DaemonSupervisor): Promise<DownResult> {
  const { paths } = home;
  const link = await readLink(o.runner, o.name);
  const state = await readState(paths);
  const pidHint = state?.pid ?? (await readPidFile(paths.pidFile));
  await checkSocketOwnership(o.name, home.netns, o.hostPaths, pidHint);
  if (!link && !state) {
    throw new WireguardError('WG_INTERFACE_NOT_FOUND', `interface ${o.name} does not exist in ${o.runner.description}; nothing to take down`);
  }
  if (link && !state) {
    throw new WireguardError('WG_INTERFACE_NOT_OURS', `interface ${o.name} in ${o.runner.description} was not created by gingham; refusing to remove it`);
  }
  const s = state!;
  let removedRules = 0;
  let removedRoutes = 0;
  // Routes through the interface in our table (they would go with the device; be explicit).
  if (link) {
    const batch: string[] = [];
    for (const f of [4, 6] as const) {
      for (const dst of await readRoutes(o.runner, f, s.table, o.name)) batch.push(`route del ${dst} dev ${o.name} table ${s.table}`);
    }
    if (batch.length > 0) {
      await runChecked(o.runner, ['ip', '-batch', '-'], { input: `${batch.join('\n')}\n` });
      removedRoutes = batch.length;
    }
  }
  // Our rule, unless the table still routes something else (another interface shares it).
  for (const f of s.ruleFamilies) {
    const others = await readRoutes(o.runner, f, s.table);
    if (others.length > 0) continue;
    const rules = await readRules(o.runner, f);
    if (rules.some((r) => isWireguardRule(r, s.table, s.rulePriority, s.fwmark))) {
      await runChecked(o.runner, ['ip', `-${f}`, 'rule', 'del', ...ruleArgs(s.table, s.rulePriority, s.fwmark)]);
      removedRules++;
    }
  }
  let stoppedPid: number | undefined;
  if (s.mode === 'userspace') {
    const pid = s.pid ?? (await readPidFile(paths.pidFile));
    if (pid !== undefined) {
      supervisor.forget(pid);
      if (await stopProcess(pid, o.name, o.hostPaths)) stoppedPid = pid;
    }
  }
  let removedInterface = false;
  if (await readLink(o.runner, o.name)) {
    await runChecked(o.runner, ['ip', 'link', 'del', 'dev', o.name]);
    removedInterface = true;
  } else if (link) {
    removedInterface = true;
  }
  await removeFiles(paths.stateFile, ...(s.mode === 'userspace' ? [paths.pidFile, paths.logFile] : []));
  return { interfaceName: o.name, removedInterface, removedRules, removedRoutes, ...(stoppedPid !== undefined ? { stoppedPid } : {}) };
}
