/**
 * Reading and writing the bits of routing state the WireGuard interface needs, through `ip -j`
 * (JSON) and `ip -batch -`. Parsing is separated from running so it can be unit-tested.
 */
import { CommandFailedError, runChecked, type CommandRunner } from '@gingham/host';
import { canonicalAddress, canonicalPrefix } from '../prefix.js';

/** The parts of `ip -d -j link show` we use. */
export interface LinkInfo {
  readonly name: string;
  readonly mtu: number;
  readonly up: boolean;
  /** `wireguard` (kernel), `tun` (wireguard-go), or another kind. */
  readonly kind: string;
}

/** Reads a link in the runner's namespace; undefined when it does not exist. */
export async function readLink(runner: CommandRunner, name: string): Promise<LinkInfo | undefined> {
  const res = await runner.run(['ip', '-d', '-j', 'link', 'show', 'dev', name]);
  if (res.code !== 0) {
    if (/does not exist|Cannot find device/i.test(res.stderr)) return undefined;
    throw new CommandFailedError(['ip', '-d', '-j', 'link', 'show', 'dev', name], res);
  }
  return parseLinkJson(res.stdout);
}

/** Parses `ip -d -j link show dev X` output. */
export function parseLinkJson(text: string): LinkInfo | undefined {
  const arr = JSON.parse(text) as {
    ifname: string;
    mtu: number;
    flags?: string[];
    linkinfo?: { info_kind?: string };
  }[];
  const l = arr[0];
  if (!l) return undefined;
  return { name: l.ifname, mtu: l.mtu, up: (l.flags ?? []).includes('UP'), kind: l.linkinfo?.info_kind ?? 'unknown' };
}

/** Global (non link-local) addresses of a device, as canonical `addr/prefixlen`. */
export async function readAddresses(runner: CommandRunner, dev: string): Promise<string[]> {
  const res = await runChecked(runner, ['ip', '-j', 'addr', 'show', 'dev', dev]);
  return parseAddrJson(res.stdout);
}

/** Parses `ip -j addr show dev X` into canonical `addr/prefixlen` (link and host scope skipped). */
export function parseAddrJson(text: string): string[] {
  const arr = JSON.parse(text || '[]') as { addr_info?: { local: string; prefixlen: number; scope?: string }[] }[];
  const out: string[] = [];
  for (const l of arr) {
    for (const a of l.addr_info ?? []) {
      if (a.scope === 'link' || a.scope === 'host') continue;
      out.push(`${canonicalAddress(a.local) ?? a.local}/${a.prefixlen}`);
    }
  }
  return out;
}

/** Destination prefixes of the routes through `dev` in `table`, for one family. */
export async function readRoutes(runner: CommandRunner, family: 4 | 6, table: number, dev?: string): Promise<string[]> {
  const argv = ['ip', '-j', `-${family}`, 'route', 'show', 'table', String(table), ...(dev ? ['dev', dev] : [])];
  const res = await runner.run(argv);
  if (res.code !== 0) {
    if (/table does not exist|Cannot find device/i.test(res.stderr)) return [];
    throw new CommandFailedError(argv, res);
  }
  return parseRouteJson(res.stdout, family);
}

/** Parses `ip -j route show`: host routes print without `/32`; this adds it back. */
export function parseRouteJson(text: string, family: 4 | 6): string[] {
  if (text.trim() === '') return [];
  const arr = JSON.parse(text) as { dst: string; type?: string }[];
  const out: string[] = [];
  for (const r of arr) {
    if (r.dst === 'default') {
      out.push(family === 4 ? '0.0.0.0/0' : '::/0');
      continue;
    }
    const c = canonicalPrefix(r.dst);
    if (c) out.push(c);
  }
  return out;
}

/** One policy-routing rule as `ip -j rule show` prints it. */
export interface RuleInfo {
  readonly priority: number;
  readonly table: string;
  readonly not: boolean;
  readonly fwmark?: number;
  readonly fwmask?: number;
}

/** Reads the rules of one family. */
export async function readRules(runner: CommandRunner, family: 4 | 6): Promise<RuleInfo[]> {
  const res = await runChecked(runner, ['ip', '-j', `-${family}`, 'rule', 'show']);
  return parseRuleJson(res.stdout);
}

/** Parses `ip -j rule show`. */
export function parseRuleJson(text: string): RuleInfo[] {
  if (text.trim() === '') return [];
  const arr = JSON.parse(text) as { priority: number; table?: string; not?: unknown; fwmark?: string; fwmask?: string }[];
  return arr.map((r) => ({
    priority: r.priority,
    table: r.table ?? '',
    not: 'not' in r,
    ...(r.fwmark !== undefined ? { fwmark: parseInt(r.fwmark, 16) } : {}),
    ...(r.fwmask !== undefined ? { fwmask: parseInt(r.fwmask, 16) } : {}),
  }));
}

/** True when `rule` is Gingham's "packets without the WireGuard mark look up our table" rule. */
export function isWireguardRule(rule: RuleInfo, table: number, priority: number, fwmark: number): boolean {
  return rule.priority === priority && rule.table === String(table) && rule.not && rule.fwmark === fwmark && (rule.fwmask ?? 0xffffffff) === fwmark;
}

/** argv (without `ip -N rule add|del`) of Gingham's rule. */
export function ruleArgs(table: number, priority: number, fwmark: number): string[] {
  const mark = `0x${fwmark.toString(16)}`;
  return ['not', 'fwmark', `${mark}/${mark}`, 'table', String(table), 'priority', String(priority)];
}

/**
 * The MTU of the device holding `ip` in the runner's namespace, else of the device the route
 * to `ip` leaves through; undefined when neither is found.
 */
export async function detectUnderlayMtu(runner: CommandRunner, ip: string): Promise<number | undefined> {
  const addrs = await runner.run(['ip', '-j', 'addr', 'show']);
  if (addrs.code === 0) {
    const arr = JSON.parse(addrs.stdout || '[]') as { ifname: string; mtu: number; addr_info?: { local: string }[] }[];
    const hit = arr.find((l) => (l.addr_info ?? []).some((a) => a.local === ip));
    if (hit) return hit.mtu;
  }
  const route = await runner.run(['ip', '-j', 'route', 'get', ip]);
  if (route.code === 0) {
    const dev = (JSON.parse(route.stdout || '[]') as { dev?: string }[])[0]?.dev;
    if (dev) return (await readLink(runner, dev))?.mtu;
  }
  return undefined;
}
