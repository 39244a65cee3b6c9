/**
 * Which WireGuard implementation this host offers. The kernel module is detected through its
 * generic-netlink family `wireguard` (`genl ctrl get name wireguard`, which also makes the
 * kernel autoload the module when it is installed but not loaded); `/sys/module/wireguard` is
 * the fallback when `genl` is missing. Creating the interface can still fail (a container
 * without the module's rtnl link type), and the apply layer then falls back to wireguard-go.
 */
import { access } from 'node:fs/promises';
import { ToolMissingError, type CommandRunner } from '@gingham/host';

/** What is available to the runner's namespace. */
export interface WireguardCapabilities {
  /** The kernel module (netlink family `wireguard`). */
  readonly kernel: boolean;
  /** The `wireguard-go` binary runs. */
  readonly userspace: boolean;
  /** The `wg` tool runs (required either way). */
  readonly wg: boolean;
}

/** `ok`: exit 0; `failed`: ran and said no; `missing`: not installed (the host layer's ToolMissingError). */
async function probe(runner: CommandRunner, argv: readonly string[]): Promise<'ok' | 'failed' | 'missing'> {
  try {
    return (await runner.run(argv)).code === 0 ? 'ok' : 'failed';
  } catch (e) {
    if (e instanceof ToolMissingError) return 'missing';
    throw e;
  }
}

/** Probes the kernel module, wireguard-go and wg. */
export async function detectWireguard(runner: CommandRunner, options: { wireguardGo?: string } = {}): Promise<WireguardCapabilities> {
  const [genl, go, wg] = await Promise.all([
    probe(runner, ['genl', 'ctrl', 'get', 'name', 'wireguard']),
    probe(runner, [options.wireguardGo ?? 'wireguard-go', '--version']),
    probe(runner, ['wg', '--version']),
  ]);
  let kernel = genl === 'ok';
  if (genl === 'missing') {
    kernel = await access('/sys/module/wireguard').then(
      () => true,
      () => false,
    );
  }
  return { kernel, userspace: go === 'ok', wg: wg === 'ok' };
}
