/**
 * The options of a WireGuard handle, their defaults (Felix's), and their validation: everything
 * is checked when the handle is created, before any command runs.
 */
import { createLocalRunner, type CommandRunner } from '@gingham/host';
import { WireguardError } from '../errors.js';
import { DEFAULT_STATE_DIR } from './state.js';
import { DEFAULT_HOST_PATHS, type HostPaths } from './userspace.js';

/** Default interface name. */
export const DEFAULT_INTERFACE_NAME = 'gingham-wg';
/** Default routing table (Felix allocates one from RouteTableRanges; 1 is the first). */
export const DEFAULT_ROUTE_TABLE = 1;
/** Felix's WireguardRoutingRulePriority. */
export const DEFAULT_RULE_PRIORITY = 99;
/** The fwmark bit the device puts on its encrypted packets (Felix's default WireGuard mark). */
export const DEFAULT_FWMARK = 0x100000;

const IFACE_RE = /^[a-zA-Z0-9_.-]{1,15}$/;

/** Throws `WG_INVALID_ARGUMENT` unless `name` is a valid interface name. */
export function assertInterfaceName(name: string): void {
  if (!IFACE_RE.test(name) || name === '.' || name === '..') {
    throw new WireguardError('WG_INVALID_ARGUMENT', `invalid interface name "${name}": 1 to 15 characters of letters, digits, "_", "." and "-"`);
  }
}

/** Throws `WG_INVALID_ARGUMENT` unless `value` is an integer in `min..max`. */
export function assertInt(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new WireguardError('WG_INVALID_ARGUMENT', `${what} ${value} is not an integer in ${min}..${max}`);
  }
}

/** Events reported by a handle (daemon supervision). */
export type WireguardEvent =
  | { readonly kind: 'daemon-started'; readonly pid: number }
  | { readonly kind: 'daemon-exited'; readonly pid: number; readonly code: number | null; readonly signal: string | null }
  | { readonly kind: 'daemon-restarted'; readonly pid: number; readonly attempt: number }
  | { readonly kind: 'daemon-gave-up'; readonly restarts: number; readonly error?: unknown };

/** Restart policy for an attached wireguard-go. */
export interface RestartPolicy {
  /** Restarts allowed within `windowMs`. Default 5. */
  readonly maxRestarts?: number;
  /** Default 5 minutes. */
  readonly windowMs?: number;
  /** First backoff, doubled per restart in the window. Default 1 s. */
  readonly backoffMs?: number;
}

/** Options of `createWireguard`. */
export interface WireguardOptions {
  /** Interface name (`^[a-zA-Z0-9_.-]{1,15}$`). Default `gingham-wg`. */
  readonly interfaceName?: string;
  /** Where commands run (`@gingham/host`'s `createLocalRunner()` / `createNetnsRunner(ns)`). Default: this process's namespace. */
  readonly runner?: CommandRunner;
  /** `auto` (default): kernel module when present, else wireguard-go. */
  readonly mode?: 'auto' | 'kernel' | 'userspace';
  /** Routing table for peers' allowed IPs. Default 1. */
  readonly table?: number;
  /** Priority of the policy-routing rule. Default 99. */
  readonly rulePriority?: number;
  /** fwmark of the device's own packets (a single bit is recommended). Default 0x100000. */
  readonly fwmark?: number;
  /** State, pid and log files. Default `/run/gingham/wireguard`. */
  readonly stateDir?: string;
  /**
   * wireguard-go outlives this process (own process group, not waited for). Default true: the
   * CLI's `apply` returns and the tunnel stays. False: an attached child supervised here.
   */
  readonly detach?: boolean;
  /** Restart policy for attached wireguard-go. Defaults: 5 restarts per 5 minutes, backoff from 1 s. */
  readonly restart?: RestartPolicy;
  /** wireguard-go binary. Default `wireguard-go` (from PATH). */
  readonly wireguardGo?: string;
  /** Supervision events. */
  readonly onEvent?: (event: WireguardEvent) => void;
  /** Socket and /proc locations (tests). */
  readonly hostPaths?: HostPaths;
  /**
   * A handle remembers what its last apply left behind and, for this long, diffs against that
   * instead of reading it back (it still checks that the interface or daemon is alive, and
   * reads back and retries when a command fails). 0 = always read back. Default 60 s. The CLI
   * uses a fresh handle per run, so it always reads back.
   */
  readonly resyncIntervalMs?: number;
}

/** The routing a handle wants: table, rule priority, fwmark. */
export interface Routing {
  readonly table: number;
  readonly priority: number;
  readonly fwmark: number;
}

/** Options with defaults applied, validated. */
export interface ResolvedOptions extends Routing {
  readonly name: string;
  readonly runner: CommandRunner;
  readonly mode: 'auto' | 'kernel' | 'userspace';
  readonly stateDir: string;
  readonly detach: boolean;
  readonly wireguardGo: string;
  readonly hostPaths: HostPaths;
  readonly restart: Required<RestartPolicy>;
  readonly resyncIntervalMs: number;
  readonly emit: (event: WireguardEvent) => void;
}

/** Applies defaults and validates (`WG_INVALID_ARGUMENT`). */
export function resolveOptions(options: WireguardOptions): ResolvedOptions {
  const o: ResolvedOptions = {
    name: options.interfaceName ?? DEFAULT_INTERFACE_NAME,
    runner: options.runner ?? createLocalRunner(),
    mode: options.mode ?? 'auto',
    table: options.table ?? DEFAULT_ROUTE_TABLE,
    priority: options.rulePriority ?? DEFAULT_RULE_PRIORITY,
    fwmark: options.fwmark ?? DEFAULT_FWMARK,
    stateDir: options.stateDir ?? DEFAULT_STATE_DIR,
    detach: options.detach ?? true,
    wireguardGo: options.wireguardGo ?? 'wireguard-go',
    hostPaths: options.hostPaths ?? DEFAULT_HOST_PATHS,
    restart: { maxRestarts: options.restart?.maxRestarts ?? 5, windowMs: options.restart?.windowMs ?? 300_000, backoffMs: options.restart?.backoffMs ?? 1000 },
    resyncIntervalMs: options.resyncIntervalMs ?? 60_000,
    emit: (e) => options.onEvent?.(e),
  };
  assertInterfaceName(o.name);
  assertInt(o.table, 1, 0xfffffffe, 'routing table');
  if (o.table === 253 || o.table === 254 || o.table === 255) throw new WireguardError('WG_INVALID_ARGUMENT', `routing table ${o.table} is reserved (default, main, local)`);
  assertInt(o.priority, 1, 32765, 'rule priority');
  assertInt(o.fwmark, 1, 0xffffffff, 'fwmark');
  return o;
}
