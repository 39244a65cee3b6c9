/**
 * Which WireGuard implementation this host offers. The kernel module is detected through its
 * generic-netlink family `wireguard` (`genl ctrl get name wireguard`, which also makes the
 * kernel autoload the module when it is installed but not loaded); `/sys/module/wireguard` is
 * the fallback when `genl` is missing. Creating the interface can still fail (a container
 * without the module's rtnl link type), and the apply layer then falls back to wireguard-go.
 */
import { access } from 'node:fs/promises';
import type { CommandRunner } from './runner.js';

/** What is available to the runner's namespace. */
export interface WireguardCapabilities {
  /** The kernel module (netlink family `wireguard`). */
  readonly kernel: boolean;
  /** The `wireguard-go` binary runs. */
  readonly userspace: boolean;
  /** The `wg` tool runs (required either way). */
  readonly wg: boolean;
}

/** Probes the kernel module, wireguard-go and wg. */
export async function detectWireguard(runner: CommandRunner, options: { wireguardGo?: string } = {}): Promise<WireguardCapabilities> {
  const [genl, go, wg] = await Promise.all([
    runner.run(['genl', 'ctrl', 'get', 'name', 'wireguard']),
    runner.run([options.wireguardGo ?? 'wireguard-go', '--version']),
    runner.run(['wg', '--version']),
  ]);
  let kernel = genl.code === 0;
  if (genl.code === 127) {
    kernel = await access('/sys/module/wireguard').then(
      () => true,
      () => false,
    );
  }
  return { kernel, userspace: go.code === 0, wg: wg.code === 0 };
}
