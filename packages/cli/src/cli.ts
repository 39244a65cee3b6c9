/**
 * The `gingham` command: dispatches subcommands, turns usage mistakes into exit code 2 with a
 * hint, and typed Gingham errors into exit code 1 with their message. Never prints a stack trace
 * for an expected failure.
 */
import { GinghamError } from '@gingham/core';
import { EBPF_ENFORCE_HELP, runEbpfEnforceCommand } from '@gingham/dataplane-ebpf';
import { ENFORCE_HELP, runEnforceCommand } from '@gingham/dataplane-iptables';
import { checkCommand, checkHelp } from './commands/check.js';
import { diffCommand, diffHelp } from './commands/diff.js';
import { lintCommand, lintHelp } from './commands/lint.js';
import { matrixCommand, matrixHelp } from './commands/matrix.js';
import { UsageError, type CliIo } from './io.js';

const usage = `gingham: Calico-grade network policy, offline and on the host

Usage:
  gingham lint      -f PATH...                              validate manifests
  gingham check     -f PATH... --from A --to B [--port N] [--protocol P]
  gingham check     -f PATH... --flows FILE                 verdicts and traces
  gingham matrix    -f PATH... --ports 80/TCP,53/UDP        connectivity matrix
  gingham diff      -f BEFORE... --against AFTER...         what a change opens and closes (exit 1 if it opens)
  gingham enforce   -f PATH... --node NAME [--dataplane iptables|ebpf]   enforce in this host's kernel
  gingham enforce   --clean [--dataplane iptables|ebpf]      remove everything enforce added
  gingham wireguard genkey|apply|down ...                   encrypt node-to-node traffic

Add --json for machine-readable output, and --help after a command for its options.`;

type Command = { run: (argv: string[], io: CliIo) => Promise<number>; help: string };

const enforceHelp = `gingham enforce: enforce the policy of one node in this network namespace's kernel.

  --dataplane iptables (default): Calico-style iptables chains and IP sets.
  --dataplane ebpf:               the eBPF datapath (tc programs and flat lookup maps).

${ENFORCE_HELP}

${EBPF_ENFORCE_HELP}`;

/** The value of `--dataplane` (`--dataplane X` or `--dataplane=X`), iptables when absent. */
function dataplaneOf(argv: readonly string[]): string {
  let value = 'iptables';
  argv.forEach((a, i) => {
    if (a === '--dataplane' && argv[i + 1] !== undefined) value = argv[i + 1]!;
    else if (a.startsWith('--dataplane=')) value = a.slice('--dataplane='.length);
  });
  return value;
}

/** `gingham enforce`: dispatches on `--dataplane` (the eBPF loader's native binding loads only when used). */
async function enforceCommand(argv: string[], io: CliIo): Promise<number> {
  const dataplane = dataplaneOf(argv);
  if (dataplane === 'iptables') return runEnforceCommand(argv, io);
  if (dataplane === 'ebpf') return runEbpfEnforceCommand(argv, io);
  io.stderr(`gingham enforce: unsupported dataplane "${dataplane}" (supported: iptables, ebpf)\n\n${enforceHelp}`);
  return 2;
}

const commands: Record<string, Command> = {
  lint: { run: lintCommand, help: lintHelp },
  check: { run: checkCommand, help: checkHelp },
  matrix: { run: matrixCommand, help: matrixHelp },
  diff: { run: diffCommand, help: diffHelp },
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
  if (name !== 'wireguard' && (rest.includes('--help') || rest.includes('-h'))) {
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
