/**
 * The `gingham` command: dispatches subcommands, turns usage mistakes into exit code 2 with a
 * hint, and typed Gingham errors into exit code 1 with their message. Never prints a stack trace
 * for an expected failure.
 */
import { GinghamError } from '@gingham/core';
import { ENFORCE_HELP, runEnforceCommand } from '@gingham/dataplane-iptables';
import { checkCommand, checkHelp } from './commands/check.js';
import { getKubernetesCommand, getKubernetesHelp } from './commands/get-kubernetes.js';
import { lintCommand, lintHelp } from './commands/lint.js';
import { matrixCommand, matrixHelp } from './commands/matrix.js';
import { UsageError, type CliIo } from './io.js';

const usage = `gingham: Calico-grade network policy, offline and on the host

Usage:
  gingham lint      -f PATH...                              validate manifests
  gingham check     -f PATH... --from A --to B [--port N] [--protocol P]
  gingham check     -f PATH... --flows FILE                 verdicts and traces
  gingham matrix    -f PATH... --ports 80/TCP,53/UDP        connectivity matrix
  gingham get       KIND [NAME] --datastore kubernetes        read a cluster as calicoctl does
  gingham enforce   -f PATH... --node NAME [--dataplane iptables|ebpf]   enforce in this host's kernel
  gingham enforce   --clean [--dataplane iptables|ebpf]      remove everything enforce added
  gingham wireguard genkey|apply|down ...                   encrypt node-to-node traffic

Add --json for machine-readable output, and --help after a command for its options.`;

type Command = { run: (argv: string[], io: CliIo) => Promise<number>; help: string };

const enforceHelp = `gingham enforce: enforce the policy of one node in this network namespace's kernel.

  --dataplane iptables (default): Calico-style iptables chains and IP sets.
  --dataplane ebpf:               the eBPF datapath (tc programs and flat lookup maps); its
                                  options: gingham enforce --dataplane ebpf --help

${ENFORCE_HELP}`;

/** The value of `--dataplane` (`--dataplane X` or `--dataplane=X`), iptables when absent. */
function dataplaneOf(argv: readonly string[]): string {
  let value = 'iptables';
  argv.forEach((a, i) => {
    if (a === '--dataplane' && argv[i + 1] !== undefined) value = argv[i + 1]!;
    else if (a.startsWith('--dataplane=')) value = a.slice('--dataplane='.length);
  });
  return value;
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

/** `gingham enforce`: dispatches on `--dataplane` (each dataplane prints its own `--help`). */
async function enforceCommand(argv: string[], io: CliIo): Promise<number> {
  const dataplane = dataplaneOf(argv);
  if (dataplane === 'ebpf') return (await importEbpfDataplane()).runEbpfEnforceCommand(argv, io);
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(enforceHelp);
    return 0;
  }
  if (dataplane === 'iptables') return runEnforceCommand(argv, io);
  io.stderr(`gingham enforce: unsupported dataplane "${dataplane}" (supported: iptables, ebpf)\n\n${enforceHelp}`);
  return 2;
}

const commands: Record<string, Command> = {
  lint: { run: lintCommand, help: lintHelp },
  check: { run: checkCommand, help: checkHelp },
  matrix: { run: matrixCommand, help: matrixHelp },
  get: { run: (argv, io) => getKubernetesCommand(argv, io), help: getKubernetesHelp },
  enforce: { run: enforceCommand, help: enforceHelp },
  wireguard: {
    run: async (argv, io) => (await import('@gingham/wireguard')).runWireguardCommand(argv, io),
    help: 'gingham wireguard genkey|apply|down --help',
  },
};

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    io.stderr(`gingham: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  if (name !== 'wireguard' && name !== 'enforce' && (rest.includes('--help') || rest.includes('-h'))) {
    io.stdout(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`gingham ${name}: ${(err as Error).message}\n\n${command.help}`);
      return 2;
    }
    if (err instanceof GinghamError || (err instanceof Error && typeof (err as { code?: unknown }).code === 'string')) {
      io.stderr(err.message.startsWith('gingham') ? err.message : `gingham ${name}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
