/**
 * The `gingham` command: dispatches subcommands and turns every outcome into an exit code and
 * a few lines a person can act on. Usage mistakes: exit 2, one or two lines and a pointer to
 * `--help`. Expected failures (bad input, typed Gingham errors, a missing tool): exit 1 with
 * their message. Anything else is a bug: one line and "please report", exit 70, the stack only
 * with GINGHAM_DEBUG=1. Text output is escaped for the terminal; JSON output stays exact.
 */
import { GinghamError } from '@gingham/core';
import type { CommandRunner } from '@gingham/host';
import { checkCommand, checkHelp } from './commands/check.js';
import { datastoreCommand, datastoreHelp } from './commands/datastore.js';
import { enforceCommand, enforceHelp } from './commands/enforce.js';
import { getCommand, getHelp } from './commands/get.js';
import { writeCommand, writeHelp } from './commands/write.js';
import { getKubernetesCommand, getKubernetesHelp } from './commands/get-kubernetes.js';
import { diffCommand, diffHelp } from './commands/diff.js';
import { lintCommand, lintHelp } from './commands/lint.js';
import { matrixCommand, matrixHelp } from './commands/matrix.js';
import { doctorCommand, doctorHelp } from './doctor/command.js';
import type { HostProbes } from './doctor/probes.js';
import { openstackCommand, openstackHelp } from './commands/openstack.js';
import { UsageError, type CliIo } from './io.js';
import { InputRefusedError } from './manifests.js';
import { escapeBlock, escapeText } from './term.js';
import { formatVersion, versionInfo } from './version.js';

const usage = `gingham: Calico-grade network policy, offline and on the host

Usage:
  gingham lint      -f PATH...                              validate manifests
  gingham check     -f PATH... --from A --to B [--port N] [--protocol P] [--via NODE]
  gingham check     -f PATH... --flows FILE                 verdicts and traces, streamed
  gingham matrix    -f PATH... --ports 80/TCP,53/UDP        connectivity matrix
  gingham diff      -f BEFORE... --against AFTER...         what a change opens and closes (exit 1 if it opens)
  gingham enforce   -f PATH... --node NAME [--dataplane iptables|ebpf]   enforce in this host's kernel
  gingham enforce   --clean [--dataplane iptables|ebpf]      remove everything enforce added
  gingham wireguard genkey|apply|down ...                   encrypt node-to-node traffic
  gingham apply|create|replace|delete -f PATH... [--datastore dir|etcd]   write a datastore, as calicoctl
  gingham get KIND [NAME] [-n NS|-A] [-o yaml|json|wide] [--datastore dir|etcd|kubernetes]   read a datastore, as calicoctl
  gingham datastore init                                    ClusterInformation and the default tiers
  gingham doctor    [--json]                                 what this host has and lacks, per dataplane
  gingham --version                                          versions of gingham, Node.js and the dataplanes
  gingham openstack convert|fetch ...                       Neutron ports and security groups as Calico resources

Add --json for machine-readable output, and --help after a command for its options.
-f takes files, directories (.yaml, .yml, .json) or - for standard input; see docs/cli.md.`;

type Command = { run: (argv: string[], io: CliIo, options: RunCliOptions) => Promise<number>; help: string };

/** The value of `--NAME X` or `--NAME=X` (the last one given), or undefined. */
function optionOf(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  argv.forEach((a, i) => {
    if (a === `--${name}` && argv[i + 1] !== undefined) value = argv[i + 1]!;
    else if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
  });
  return value;
}

/** `--datastore`, else Calico's `DATASTORE_TYPE` (`kubernetes` selects the Kubernetes reader of `get`). */
const datastoreOf = (argv: readonly string[], io: CliIo): string | undefined => {
  const env = io.env ?? process.env;
  return optionOf(argv, 'datastore') ?? (env.CALICO_DATASTORE_TYPE || env.DATASTORE_TYPE);
};

const commands: Record<string, Command> = {
  lint: { run: lintCommand, help: lintHelp },
  check: { run: checkCommand, help: checkHelp },
  matrix: { run: matrixCommand, help: matrixHelp },
  diff: { run: diffCommand, help: diffHelp },
  enforce: { run: (argv, io, options) => enforceCommand(argv, io, options.runner ? { runner: options.runner } : {}), help: enforceHelp() },
  apply: { run: (argv, io) => writeCommand('apply', argv, io), help: writeHelp('apply') },
  create: { run: (argv, io) => writeCommand('create', argv, io), help: writeHelp('create') },
  replace: { run: (argv, io) => writeCommand('replace', argv, io), help: writeHelp('replace') },
  delete: { run: (argv, io) => writeCommand('delete', argv, io), help: writeHelp('delete') },
  get: { run: (argv, io) => (datastoreOf(argv, io) === 'kubernetes' ? getKubernetesCommand(argv, io) : getCommand(argv, io)), help: `${getHelp}\n\n${getKubernetesHelp}` },
  datastore: { run: datastoreCommand, help: datastoreHelp },
  doctor: { run: (argv, io, options) => doctorCommand(argv, io, options.hostProbes), help: doctorHelp },
  openstack: { run: openstackCommand, help: openstackHelp },
  wireguard: {
    run: async (argv, io) => (await import('@gingham/wireguard')).runWireguardCommand(argv, io),
    help: 'gingham wireguard genkey|apply|down --help',
  },
};

/** Injection points for tests and embedding. */
export interface RunCliOptions {
  /** What `gingham doctor` asks the host (default: this host). */
  readonly hostProbes?: HostProbes;
  /**
   * How `gingham enforce --dataplane iptables` runs its commands (default: in this process's
   * network namespace); a namespace runner of `@gingham/host` enforces inside another one.
   */
  readonly runner?: CommandRunner;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = keep;
    }
  }
  return row[b.length]!;
}

/** node:util parseArgs errors, said shortly. */
function parseArgsMessage(err: Error & { code?: string }): string {
  const m = err.message;
  const quoted = /'([^']*)'/.exec(m)?.[1] ?? '';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${escapeText(quoted)}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${escapeText(quoted)}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = quoted.split(' ')[0] ?? quoted;
      return /argument missing/.test(m) ? `${escapeText(option)} needs a value` : /does not take an argument/.test(m) ? `${escapeText(option)} takes no value` : escapeText(m);
    }
    default:
      return escapeText(m);
  }
}

/** An error we expect and can explain: typed Gingham errors, refused input, and the OS's own (EACCES…). */
function isExpected(err: unknown): err is Error {
  if (err instanceof GinghamError || err instanceof InputRefusedError) return true;
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown; syscall?: unknown };
  if (typeof e.code !== 'string') return false;
  // The OS said no (ENOENT, EACCES… with the call that failed), or a typed error of another
  // package (TOOL_MISSING, NOT_PERMITTED…); node's own ERR_* codes are bugs of ours.
  return typeof e.syscall === 'string' || (/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(e.code) && !e.code.startsWith('ERR_'));
}

function internalError(err: unknown, io: CliIo, command: string): number {
  const debug = (io.env ?? process.env).GINGHAM_DEBUG === '1';
  const what = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
  io.stderr(`gingham${command ? ` ${command}` : ''}: internal error: ${escapeText(what)}; please report it${debug ? '' : ' (GINGHAM_DEBUG=1 shows where)'}`);
  if (debug && err instanceof Error && err.stack) io.stderr(escapeBlock(err.stack));
  return 70;
}

/** Text output escaped for the terminal, JSON output as it is. */
function outputFor(io: CliIo, json: boolean): CliIo {
  return {
    ...io,
    stdout: json ? (t) => io.stdout(t) : (t) => io.stdout(escapeBlock(t)),
    stderr: (t) => io.stderr(escapeBlock(t)),
  };
}

export async function runCli(argv: readonly string[], io: CliIo, options: RunCliOptions = {}): Promise<number> {
  const [name, ...rest] = argv;
  const out = outputFor(io, argv.includes('--json') || argv.includes('--jsonl'));
  try {
    if (name === undefined) {
      out.stderr(usage);
      return 2;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? rest[0] : undefined;
      out.stdout(topic && commands[topic] ? commands[topic].help : usage);
      return 0;
    }
    if (name === '--version' || name === '-V' || name === 'version') {
      const info = await versionInfo();
      out.stdout(argv.includes('--json') ? JSON.stringify(info, null, 2) : formatVersion(info));
      return 0;
    }
    const command = commands[name];
    if (!command) {
      const near = Object.keys(commands).find((c) => distance(c, name) <= 2);
      out.stderr(`gingham: unknown command "${escapeText(name)}"${near ? `; did you mean ${near}?` : ` (${Object.keys(commands).join(', ')})`}\nrun 'gingham --help' for usage`);
      return 2;
    }
    if (name !== 'wireguard' && name !== 'enforce' && (rest.includes('--help') || rest.includes('-h'))) {
      out.stdout(command.help);
      return 0;
    }
    try {
      return await command.run(rest, out, options);
    } catch (err) {
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        const message = err instanceof UsageError ? err.message : parseArgsMessage(err as Error & { code?: string });
        out.stderr(`gingham ${name}: ${message}\nrun 'gingham ${name} --help' for usage`);
        return 2;
      }
      if (isExpected(err)) {
        const message = err.message.replace(/^gingham: /, '');
        out.stderr(message.startsWith('gingham') ? message : `gingham ${name}: ${message}`);
        return 1;
      }
      return internalError(err, out, name);
    }
  } catch (err) {
    return internalError(err, out, '');
  }
}
