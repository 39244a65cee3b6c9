/**
 * `gingham wireguard genkey|pubkey|rotate-key|apply|down`: WireGuard between nodes, composed from
 * `@gingham/wireguard` (keys, peers, the handle) and the CLI's manifest loading. `apply` reads and
 * checks everything (flags, the key file and its mode, the manifests, the node, the computed
 * peers, the interface name's owner) before the first change to the kernel, so a failing command
 * changes nothing. The tunnel outlives the command (wireguard-go is detached).
 *
 * Exit codes: 0 success, 1 bad input or a failed operation (nothing changed when refused), 2 usage.
 */
import { parseArgs } from 'node:util';
import { canonicalIp } from '@gingham/core';
import { createLocalRunner, type CommandRunner } from '@gingham/host';
import {
  assertInterfaceName,
  computeWireguardConfig,
  createWireguard,
  DEFAULT_INTERFACE_NAME,
  DEFAULT_STATE_DIR,
  detectUnderlayMtu,
  formatPeerIssue,
  generateKeyFile,
  readPrivateKeyFile,
  rotateKeyFile,
  WireguardError,
  type HostPaths,
} from '@gingham/wireguard';
import { UsageError, type CliIo } from '../io.js';
import { loadModel } from '../manifests.js';
import { escapeText, renderIssue } from '../term.js';

export const wireguardHelp = `gingham wireguard: encrypt traffic between nodes with WireGuard (the kernel module, or
wireguard-go when the kernel has none), configured from Calico Node manifests

Usage:
  gingham wireguard genkey --out FILE [--force]       create a private key file (mode 0600, missing
                                                      parent directories 0700); print its public key
  gingham wireguard pubkey --private-key FILE         print the public key of a private key file
  gingham wireguard rotate-key --private-key FILE     replace the key in FILE; print old and new public keys
  gingham wireguard apply -f PATH... --node NAME --private-key FILE [options]
                                                      create or update this node's interface, peers, routes
  gingham wireguard down [--interface NAME] [--state-dir DIR]
                                                      remove the interface, its routes and rule; stop wireguard-go

Options of apply:
  -f, --filename PATH       manifest files or directories (.yaml, .yml, .json), or - for stdin; repeatable
  --node NAME               this node's name in the manifests
  --private-key FILE        private key file (readable only by its owner)
  --interface NAME          interface name (default ${DEFAULT_INTERFACE_NAME}); wireguard-go names are
                            machine-wide: namespaces on one machine need different names
  --listen-port N           UDP port of this node and its peers (default 51820; 51821 for IPv6)
  --mtu N                   interface MTU (default: underlay MTU - 60, or - 80 over IPv6)
  --table N                 routing table for peers' allowed IPs (default 1)
  --rule-priority N         priority of the rule sending unmarked packets to it (default 99)
  --fwmark N                mark on encrypted packets, which skip the table (default 0x100000)
  --persistent-keepalive N  seconds between keepalives to every peer (default off)
  --ip-version 4|6          which device to configure (default 4)
  --mode auto|kernel|userspace   implementation (default auto: kernel when available)
  --state-dir DIR           state, pid and log files (default ${DEFAULT_STATE_DIR}); down needs the same

Every command takes --json (machine-readable output on stdout). See docs/wireguard.md.`;

/** Injection points for tests and embedding; by default everything runs in this network namespace. */
export interface WireguardCommandOptions {
  /** Where `ip`, `wg` and wireguard-go run (`@gingham/host`'s runners). */
  readonly runner?: CommandRunner;
  /** wireguard-go's socket directory and /proc (tests fake them). */
  readonly hostPaths?: HostPaths;
  /** The wireguard-go binary. */
  readonly wireguardGo?: string;
}

const SUBCOMMANDS = ['genkey', 'pubkey', 'rotate-key', 'apply', 'down'] as const;
const INT_FLAGS = {
  'listen-port': [1, 65535],
  mtu: [576, 65535],
  table: [1, 0xfffffffe],
  'rule-priority': [1, 32765],
  fwmark: [1, 0xffffffff],
  'persistent-keepalive': [0, 65535],
} as const;

function json(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2));
}

/** An integer flag (decimal, or 0x hex), range-checked; undefined when absent. */
function intFlag(values: Record<string, unknown>, name: keyof typeof INT_FLAGS): number | undefined {
  const v = values[name];
  if (typeof v !== 'string') return undefined;
  const [min, max] = INT_FLAGS[name];
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got "${escapeText(v)}"`);
  return n;
}

function interfaceOf(value: string | undefined): string {
  const name = value ?? DEFAULT_INTERFACE_NAME;
  try {
    assertInterfaceName(name);
  } catch (e) {
    throw new UsageError(escapeText((e as Error).message.replace(/^gingham: /, '')));
  }
  return name;
}

function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === '') throw new UsageError(`${command} needs --${flag}`);
  return value;
}

async function genkey(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } }, strict: true });
  const out = required(values.out, 'out', 'genkey');
  const pair = await generateKeyFile(out, { overwrite: values.force ?? false, createParents: true });
  if (values.json) {
    json(io, { file: out, publicKey: pair.publicKey, createdDirectories: pair.createdDirectories });
    return 0;
  }
  for (const dir of pair.createdDirectories) io.stderr(`created directory ${escapeText(dir)} (mode 0700)`);
  io.stdout(pair.publicKey);
  return 0;
}

async function pubkey(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'private-key': { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const file = required(values['private-key'], 'private-key', 'pubkey');
  const pair = await readPrivateKeyFile(file);
  if (values.json) json(io, { file, publicKey: pair.publicKey });
  else io.stdout(pair.publicKey);
  return 0;
}

async function rotateKey(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'private-key': { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const file = required(values['private-key'], 'private-key', 'rotate-key');
  const r = await rotateKeyFile(file);
  if (values.json) {
    json(io, { file, oldPublicKey: r.oldPublicKey, publicKey: r.publicKey });
    return 0;
  }
  io.stdout(`old ${r.oldPublicKey}\nnew ${r.publicKey}`);
  io.stderr("Publish the new key in this node's manifest (status.wireguardPublicKey), then re-apply this node and its peers.");
  return 0;
}

async function apply(argv: string[], io: CliIo, options: WireguardCommandOptions): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      filename: { type: 'string', short: 'f', multiple: true },
      file: { type: 'string', multiple: true },
      node: { type: 'string' },
      'private-key': { type: 'string' },
      interface: { type: 'string' },
      'listen-port': { type: 'string' },
      mtu: { type: 'string' },
      table: { type: 'string' },
      'rule-priority': { type: 'string' },
      fwmark: { type: 'string' },
      'persistent-keepalive': { type: 'string' },
      'ip-version': { type: 'string' },
      mode: { type: 'string' },
      'state-dir': { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const files = [...(values.filename ?? []), ...(values.file ?? [])];
  if (files.length === 0) throw new UsageError('apply needs -f PATH (manifest files or directories)');
  const nodeName = required(values.node, 'node', 'apply');
  const keyFile = required(values['private-key'], 'private-key', 'apply');
  const interfaceName = interfaceOf(values.interface);
  const listenPort = intFlag(values, 'listen-port');
  const mtu = intFlag(values, 'mtu');
  const table = intFlag(values, 'table');
  const rulePriority = intFlag(values, 'rule-priority');
  const fwmark = intFlag(values, 'fwmark');
  const keepalive = intFlag(values, 'persistent-keepalive');
  const ipVersionText = values['ip-version'] ?? '4';
  if (ipVersionText !== '4' && ipVersionText !== '6') throw new UsageError(`--ip-version must be 4 or 6, got "${escapeText(ipVersionText)}"`);
  const ipVersion = ipVersionText === '6' ? 6 : 4;
  const mode = values.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'kernel' && mode !== 'userspace') throw new UsageError(`--mode must be auto, kernel or userspace, got "${escapeText(mode)}"`);

  // Everything read and checked before anything is changed.
  const key = await readPrivateKeyFile(keyFile);
  const model = await loadModel(files, io);
  const refuse = (why: string, issues: readonly unknown[]): number => {
    if (values.json) json(io, { ok: false, changed: false, issues });
    else throw new WireguardError('WG_INVALID_INPUT', `${why}; nothing was changed`);
    return 1;
  };
  if (!values.json) for (const issue of model.issues) io.stderr(renderIssue(issue));
  if (!model.ok || model.issues.some((i) => i.severity === 'error')) return refuse('the manifests have errors (above)', model.issues);
  const nodes = model.snapshot.nodes;
  const local = nodes.find((n) => n.name === nodeName);
  if (!local) {
    const known = nodes.slice(0, 10).map((n) => escapeText(n.name));
    throw new WireguardError(
      'WG_NODE_NOT_FOUND',
      `node ${escapeText(nodeName)} is not in the manifests${known.length > 0 ? ` (nodes: ${known.join(', ')}${nodes.length > 10 ? ', ...' : ''})` : ' (they contain no Node)'}; nothing was changed`,
    );
  }
  const runner = options.runner ?? createLocalRunner();
  let underlayMtu: number | undefined;
  if (mtu === undefined) {
    // The underlay is the device holding this node's own address (its endpoint for peers).
    const selfIp = (ipVersion === 4 ? local.bgpIPv4Address : local.bgpIPv6Address) ?? local.addresses[0];
    const ip = selfIp ? canonicalIp(selfIp) : undefined;
    underlayMtu = ip ? await detectUnderlayMtu(runner, ip) : undefined;
  }
  const config = computeWireguardConfig({
    nodes,
    workloadEndpoints: model.snapshot.workloadEndpoints,
    localNode: nodeName,
    ipVersion,
    localPublicKey: key.publicKey,
    ...(listenPort !== undefined ? { listenPort } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ...(underlayMtu !== undefined ? { underlayMtu } : {}),
    ...(keepalive !== undefined ? { persistentKeepalive: keepalive } : {}),
  });
  if (!values.json) for (const i of config.issues) io.stderr(escapeText(formatPeerIssue(i)));
  if (!config.ok) return refuse('the node list has errors (above)', config.issues);
  const warnings: string[] = [];
  const published = config.interface.publishedPublicKey;
  if (published !== key.publicKey) {
    warnings.push(
      `node ${escapeText(nodeName)} publishes ${published ? `public key ${escapeText(published)}` : 'no public key'} but ${escapeText(keyFile)} has public key ${key.publicKey}; peers cannot reach this node until its manifest carries that key`,
    );
  }
  if (!values.json) for (const w of warnings) io.stderr(`warning: ${w}`);

  const wg = createWireguard({
    interfaceName,
    mode,
    detach: true,
    runner,
    ...(table !== undefined ? { table } : {}),
    ...(rulePriority !== undefined ? { rulePriority } : {}),
    ...(fwmark !== undefined ? { fwmark } : {}),
    ...(values['state-dir'] !== undefined ? { stateDir: values['state-dir'] } : {}),
    ...(options.hostPaths !== undefined ? { hostPaths: options.hostPaths } : {}),
    ...(options.wireguardGo !== undefined ? { wireguardGo: options.wireguardGo } : {}),
  });
  try {
    const r = await wg.apply({ ...config, privateKey: key.privateKey });
    if (values.json) {
      json(io, { ok: true, changed: r.commands > 0, node: nodeName, publicKey: key.publicKey, interface: config.interface, peers: config.peers.length, issues: [...model.issues, ...config.issues], warnings, result: r });
      return 0;
    }
    const how = r.mode === 'kernel' ? 'kernel' : `wireguard-go pid ${r.pid ?? '?'}`;
    io.stdout(
      `${interfaceName}: ${r.created ? (r.restarted ? 'recreated' : 'created') : 'updated'} (${how}), ${config.peers.length} peer(s): +${r.peers.added} ~${r.peers.updated} -${r.peers.removed}, routes +${r.routes.added} -${r.routes.removed}, MTU ${config.interface.mtu}, public key ${key.publicKey}`,
    );
    return 0;
  } finally {
    await wg.close();
  }
}

async function down(argv: string[], io: CliIo, options: WireguardCommandOptions): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { interface: { type: 'string' }, 'state-dir': { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const interfaceName = interfaceOf(values.interface);
  const wg = createWireguard({
    interfaceName,
    ...(options.runner !== undefined ? { runner: options.runner } : {}),
    ...(values['state-dir'] !== undefined ? { stateDir: values['state-dir'] } : {}),
    ...(options.hostPaths !== undefined ? { hostPaths: options.hostPaths } : {}),
  });
  try {
    const r = await wg.down();
    if (values.json) json(io, r);
    else io.stdout(`${interfaceName}: removed${r.stoppedPid !== undefined ? ` (stopped wireguard-go pid ${r.stoppedPid})` : ''}, ${r.removedRoutes} route(s), ${r.removedRules} rule(s)`);
    return 0;
  } finally {
    await wg.close();
  }
}

/** `gingham wireguard …`; throws `UsageError` for usage mistakes and typed errors for failures (the CLI maps both to exit codes). */
export async function wireguardCommand(argv: string[], io: CliIo, options: WireguardCommandOptions = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) throw new UsageError(`which one: ${SUBCOMMANDS.join(', ')}?`);
  if (sub === 'help' || sub === '--help' || sub === '-h' || rest.includes('--help') || rest.includes('-h')) {
    io.stdout(wireguardHelp);
    return 0;
  }
  switch (sub) {
    case 'genkey':
      return genkey(rest, io);
    case 'pubkey':
      return pubkey(rest, io);
    case 'rotate-key':
      return rotateKey(rest, io);
    case 'apply':
      return apply(rest, io, options);
    case 'down':
      return down(rest, io, options);
    default:
      throw new UsageError(`unknown subcommand "${escapeText(sub)}" (${SUBCOMMANDS.join(', ')})`);
  }
}
