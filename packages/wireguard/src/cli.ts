/**
 * `gingham wireguard ...`: the command-line face of this package. The `gingham` CLI dispatches
 * here with the arguments after `wireguard`. Everything is validated (flags, key file and its
 * permissions, manifests, the node, the computed peers, the interface name's owner) before the
 * first change to the kernel, so a failing command changes nothing.
 *
 * Exit codes: 0 success, 1 error (bad input or a failed operation), 2 usage error.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { buildSnapshot, describeRefusal, formatIssue, GinghamError, loadManifests, readManifestPaths, type NodeInfo, type WorkloadEndpoint } from '@gingham/core';
import { WireguardError } from './errors.js';
import { generateKeyFile, readPrivateKeyFile, rotateKeyFile } from './keys.js';
import { computeWireguardConfig, formatPeerIssue } from './peers.js';
import { canonicalIp } from './cidr.js';
import { detectUnderlayMtu } from './apply/ip.js';
import { createLocalRunner, type CommandRunner } from './apply/runner.js';
import type { HostPaths } from './apply/userspace.js';
import { assertInterfaceName, createWireguard, DEFAULT_INTERFACE_NAME } from './apply/wireguard.js';

/** Where the command writes. */
export interface WireguardCliIO {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

/** The nodes and endpoints read from manifests. */
export interface LoadedNodes {
  readonly nodes: readonly NodeInfo[];
  readonly workloadEndpoints: readonly WorkloadEndpoint[];
  /** Formatted issues (errors and warnings), one per line. */
  readonly issues: readonly string[];
  readonly ok: boolean;
}

/** Injection points, for tests and embedding. Defaults run in this process's namespace. */
export interface WireguardCliOptions {
  readonly runner?: CommandRunner;
  readonly stateDir?: string;
  readonly hostPaths?: HostPaths;
  readonly wireguardGo?: string;
  /** Replaces manifest loading (default: `@gingham/core`'s `loadManifests` + `buildSnapshot`). */
  readonly loadNodes?: (paths: readonly string[]) => Promise<LoadedNodes>;
}

const HELP = `Usage: gingham wireguard <command> [options]

Encrypt traffic between nodes with WireGuard (kernel module, or wireguard-go when the kernel has
none), configured from Calico Node manifests.

Commands:
  genkey --out FILE [--force]      Create a private key file (mode 0600), and its missing parent
                                   directories (mode 0700); print its public key.
  pubkey --private-key FILE        Print the public key of a private key file.
  rotate-key --private-key FILE    Replace the key in FILE; print old and new public keys.
  apply -f PATH... --node NAME --private-key FILE [options]
                                   Create or update this node's interface, peers and routes.
  down [--interface NAME]          Remove the interface, its routes and rule; stop wireguard-go.

Options of apply:
  -f, --filename PATH...   Manifest files or directories (.yaml, .yml, .json); repeatable.
  --node NAME              This node's name in the manifests.
  --private-key FILE       Private key file (must be readable only by its owner).
  --interface NAME         Interface name (default ${DEFAULT_INTERFACE_NAME}). wireguard-go names are
                           machine-wide: namespaces on one machine need different names.
  --listen-port N          UDP port of this node and its peers (default 51820; 51821 for IPv6).
  --mtu N                  Interface MTU (default: underlay MTU - 60, or - 80 over IPv6).
  --table N                Routing table for peers' allowed IPs (default 1).
  --rule-priority N        Priority of the rule sending unmarked packets to it (default 99).
  --fwmark N               Mark on encrypted packets, which skip the table (default 0x100000).
  --persistent-keepalive N Seconds between keepalives to every peer (default off).
  --ip-version 4|6         Which device to configure (default 4).
  --mode auto|kernel|userspace   Implementation (default auto: kernel when available).

Options of down: --interface NAME (default ${DEFAULT_INTERFACE_NAME}).
`;

class UsageError extends Error {}

/** A usage mistake in two lines: what is wrong, and where help is. */
function usageText(message: string): string {
  return `gingham wireguard: ${message}\nrun 'gingham wireguard --help' for usage\n`;
}

interface Parsed {
  readonly command: string | undefined;
  readonly flags: Map<string, string[]>;
  readonly help: boolean;
}

const VALUE_FLAGS = new Set([
  'out',
  'private-key',
  'node',
  'interface',
  'listen-port',
  'mtu',
  'table',
  'rule-priority',
  'fwmark',
  'persistent-keepalive',
  'ip-version',
  'mode',
  'filename',
]);
const BOOL_FLAGS = new Set(['force', 'help']);

function parseArgs(argv: readonly string[]): Parsed {
  const flags = new Map<string, string[]>();
  let command: string | undefined;
  let help = false;
  const add = (k: string, v: string): void => {
    flags.set(k, [...(flags.get(k) ?? []), v]);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      help = true;
      continue;
    }
    if (a === '-f' || a === '--filename' || a.startsWith('--filename=')) {
      if (a.startsWith('--filename=')) {
        add('filename', a.slice('--filename='.length));
        continue;
      }
      let n = 0;
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) {
        add('filename', argv[++i]!);
        n++;
      }
      if (n === 0) throw new UsageError(`${a} needs at least one file or directory`);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (BOOL_FLAGS.has(name)) {
        if (eq >= 0) throw new UsageError(`--${name} takes no value`);
        add(name, 'true');
        continue;
      }
      if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
      const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      add(name, value);
      continue;
    }
    if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
    if (command === undefined) command = a;
    else throw new UsageError(`unexpected argument "${a}"`);
  }
  return { command, flags, help };
}

function one(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  if (v && v.length > 1) throw new UsageError(`--${name} given more than once`);
  return v?.[0];
}

function required(p: Parsed, name: string, command: string): string {
  const v = one(p, name);
  if (v === undefined || v === '') throw new UsageError(`${command} needs --${name}`);
  return v;
}

function intFlag(p: Parsed, name: string, min: number, max: number): number | undefined {
  const v = one(p, name);
  if (v === undefined) return undefined;
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got "${v}"`);
  return n;
}

function allow(p: Parsed, command: string, names: readonly string[]): void {
  for (const k of p.flags.keys()) {
    if (!names.includes(k)) throw new UsageError(`${command} does not take --${k}`);
  }
}

/** Reads manifests (files or directories) with `@gingham/core` and returns nodes and endpoints. */
export async function loadNodesFromManifests(paths: readonly string[]): Promise<LoadedNodes> {
  const read = await readManifestPaths(paths, { readdir, stat, open });
  const problems = [...read.missing.map((p) => `no such file or directory: ${p}`), ...read.refused.map(describeRefusal)];
  if (problems.length > 0) throw new WireguardError('WG_INVALID_INPUT', `${problems.join('\n')}\nnothing was changed`);
  const loaded = loadManifests(read.inputs);
  const built = buildSnapshot(loaded.resources.map((r) => r.resource));
  const issues = [...loaded.issues, ...built.issues];
  return {
    nodes: built.snapshot.nodes,
    workloadEndpoints: built.snapshot.workloadEndpoints,
    issues: issues.map((i) => formatIssue(i)),
    ok: loaded.ok && !issues.some((i) => i.severity === 'error'),
  };
}

/**
 * Runs `gingham wireguard <argv...>` and returns the exit code. Never throws for expected
 * failures (usage, bad input, a failed command): they are printed to `io.stderr`. Anything else
 * is a bug and is thrown.
 */
export async function runWireguardCommand(argv: readonly string[], io: WireguardCliIO, options: WireguardCliOptions = {}): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    io.stderr(usageText((e as Error).message));
    return 2;
  }
  if (parsed.help || parsed.command === undefined || parsed.command === 'help') {
    (parsed.command === undefined && !parsed.help ? io.stderr : io.stdout)(HELP);
    return parsed.command === undefined && !parsed.help ? 2 : 0;
  }
  try {
    switch (parsed.command) {
      case 'genkey':
        return await genkey(parsed, io);
      case 'pubkey':
        return await pubkey(parsed, io);
      case 'rotate-key':
        return await rotate(parsed, io);
      case 'apply':
        return await apply(parsed, io, options);
      case 'down':
        return await down(parsed, io, options);
      default:
        throw new UsageError(`unknown command "${parsed.command}" (genkey, pubkey, rotate-key, apply, down)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(usageText(e.message));
      return 2;
    }
    if (e instanceof WireguardError || e instanceof GinghamError) {
      io.stderr(`${e.message}\n`);
      return 1;
    }
    // Not an expected failure: a bug. The caller (the gingham command) says so in one line.
    throw e;
  }
}

async function genkey(p: Parsed, io: WireguardCliIO): Promise<number> {
  allow(p, 'genkey', ['out', 'force']);
  const out = required(p, 'out', 'genkey');
  const pair = await generateKeyFile(out, { overwrite: p.flags.has('force'), createParents: true });
  for (const dir of pair.createdDirectories) io.stderr(`created directory ${dir} (mode 0700)\n`);
  io.stdout(`${pair.publicKey}\n`);
  return 0;
}

async function pubkey(p: Parsed, io: WireguardCliIO): Promise<number> {
  allow(p, 'pubkey', ['private-key']);
  const pair = await readPrivateKeyFile(required(p, 'private-key', 'pubkey'));
  io.stdout(`${pair.publicKey}\n`);
  return 0;
}

async function rotate(p: Parsed, io: WireguardCliIO): Promise<number> {
  allow(p, 'rotate-key', ['private-key']);
  const r = await rotateKeyFile(required(p, 'private-key', 'rotate-key'));
  io.stdout(`old ${r.oldPublicKey}\nnew ${r.publicKey}\n`);
  io.stderr('Publish the new key in this node\'s manifest (status.wireguardPublicKey), then re-apply this node and its peers.\n');
  return 0;
}

async function apply(p: Parsed, io: WireguardCliIO, options: WireguardCliOptions): Promise<number> {
  allow(p, 'apply', ['filename', 'node', 'private-key', 'interface', 'listen-port', 'mtu', 'table', 'rule-priority', 'fwmark', 'persistent-keepalive', 'ip-version', 'mode']);
  const files = p.flags.get('filename') ?? [];
  if (files.length === 0) throw new UsageError('apply needs -f PATH (manifest files or directories)');
  const nodeName = required(p, 'node', 'apply');
  const keyFile = required(p, 'private-key', 'apply');
  const interfaceName = one(p, 'interface') ?? DEFAULT_INTERFACE_NAME;
  try {
    assertInterfaceName(interfaceName);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^gingham: /, ''));
  }
  const listenPort = intFlag(p, 'listen-port', 1, 65535);
  const mtu = intFlag(p, 'mtu', 576, 65535);
  const table = intFlag(p, 'table', 1, 0xfffffffe);
  const rulePriority = intFlag(p, 'rule-priority', 1, 32765);
  const fwmark = intFlag(p, 'fwmark', 1, 0xffffffff);
  const keepalive = intFlag(p, 'persistent-keepalive', 0, 65535);
  const ipVersionFlag = intFlag(p, 'ip-version', 4, 6);
  if (ipVersionFlag === 5) throw new UsageError('--ip-version must be 4 or 6');
  const ipVersion = (ipVersionFlag ?? 4) as 4 | 6;
  const mode = one(p, 'mode') ?? 'auto';
  if (mode !== 'auto' && mode !== 'kernel' && mode !== 'userspace') throw new UsageError(`--mode must be auto, kernel or userspace, got "${mode}"`);

  // Everything read and checked before anything is changed.
  const key = await readPrivateKeyFile(keyFile);
  const loaded = await (options.loadNodes ?? loadNodesFromManifests)(files);
  for (const line of loaded.issues) io.stderr(`${line}\n`);
  if (!loaded.ok) throw new WireguardError('WG_INVALID_INPUT', 'the manifests have errors (above); nothing was changed');
  const local = loaded.nodes.find((n) => n.name === nodeName);
  if (!local) {
    const known = loaded.nodes.map((n) => n.name).slice(0, 10);
    throw new WireguardError('WG_NODE_NOT_FOUND', `node ${nodeName} is not in the manifests${known.length > 0 ? ` (nodes: ${known.join(', ')}${loaded.nodes.length > 10 ? ', ...' : ''})` : ' (they contain no Node)'}; nothing was changed`);
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
    nodes: loaded.nodes,
    workloadEndpoints: loaded.workloadEndpoints,
    localNode: nodeName,
    ipVersion,
    localPublicKey: key.publicKey,
    ...(listenPort !== undefined ? { listenPort } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ...(underlayMtu !== undefined ? { underlayMtu } : {}),
    ...(keepalive !== undefined ? { persistentKeepalive: keepalive } : {}),
  });
  for (const i of config.issues) io.stderr(`${formatPeerIssue(i)}\n`);
  if (!config.ok) throw new WireguardError('WG_INVALID_INPUT', 'the node list has errors (above); nothing was changed');
  const published = config.interface.publishedPublicKey;
  if (published !== key.publicKey) {
    io.stderr(
      `warning: node ${nodeName} publishes ${published ? `public key ${published}` : 'no public key'} but ${keyFile} has public key ${key.publicKey}; peers cannot reach this node until its manifest carries that key\n`,
    );
  }

  const wg = createWireguard({
    interfaceName,
    runner,
    mode,
    detach: true,
    ...(table !== undefined ? { table } : {}),
    ...(rulePriority !== undefined ? { rulePriority } : {}),
    ...(fwmark !== undefined ? { fwmark } : {}),
    ...(options.stateDir !== undefined ? { stateDir: options.stateDir } : {}),
    ...(options.hostPaths !== undefined ? { hostPaths: options.hostPaths } : {}),
    ...(options.wireguardGo !== undefined ? { wireguardGo: options.wireguardGo } : {}),
  });
  const r = await wg.apply({ ...config, privateKey: key.privateKey });
  const how = r.mode === 'kernel' ? 'kernel' : `wireguard-go pid ${r.pid ?? '?'}`;
  io.stdout(
    `${interfaceName}: ${r.created ? (r.restarted ? 'recreated' : 'created') : 'updated'} (${how}), ${config.peers.length} peer(s): +${r.peers.added} ~${r.peers.updated} -${r.peers.removed}, routes +${r.routes.added} -${r.routes.removed}, MTU ${config.interface.mtu}, public key ${key.publicKey}\n`,
  );
  return 0;
}

async function down(p: Parsed, io: WireguardCliIO, options: WireguardCliOptions): Promise<number> {
  allow(p, 'down', ['interface']);
  const interfaceName = one(p, 'interface') ?? DEFAULT_INTERFACE_NAME;
  try {
    assertInterfaceName(interfaceName);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^gingham: /, ''));
  }
  const wg = createWireguard({
    interfaceName,
    ...(options.runner !== undefined ? { runner: options.runner } : {}),
    ...(options.stateDir !== undefined ? { stateDir: options.stateDir } : {}),
    ...(options.hostPaths !== undefined ? { hostPaths: options.hostPaths } : {}),
  });
  const r = await wg.down();
  io.stdout(
    `${interfaceName}: removed${r.stoppedPid !== undefined ? ` (stopped wireguard-go pid ${r.stoppedPid})` : ''}, ${r.removedRoutes} route(s), ${r.removedRules} rule(s)\n`,
  );
  return 0;
}
