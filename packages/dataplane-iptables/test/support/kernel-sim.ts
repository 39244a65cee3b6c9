/**
 * A small simulator of the kernel state the iptables dataplane writes, for the fail-closed
 * property: a `CommandRunner` that answers `iptables-save`, `iptables-restore --noflush`,
 * `ipset save` and `ipset -exist restore` from memory, and calls `onStep` after every atomic
 * kernel change (each ipset line, each restore table's COMMIT), plus an interpreter of *our*
 * rules (the matches and targets the renderer emits) that gives a new TCP connection's first
 * packet its verdict on its way through the hooks we use: raw PREROUTING → mangle PREROUTING →
 * filter FORWARD or INPUT, and raw OUTPUT → filter OUTPUT. The packet mark (accept, pass and the
 * generation stamp) and the conntrack state (NEW, or UNTRACKED after NOTRACK) carry from table to
 * table as in the kernel; `-i` is unknown in OUTPUT and `-o` before routing (an error, as
 * iptables would refuse such rules).
 * It is a test instrument, not a model of iptables in general: anything it does not know is an
 * error, never a silent match.
 *
 * IP sets, as ipset 7.17 on kernel 6.18 behaves (checked in a namespace; `groupDispatch: 'ipset'`
 * depends on the last two): `hash:net`, `hash:net,port`, `hash:net,iface` (`<cidr>,<iface>`; the
 * second flag of `--match-set` picks the interface, `src` the in- and `dst` the out-interface, and
 * a packet without that interface does not match) and `list:set` (members are set names; it
 * matches when one member matches with the same flags). `add L S` needs S to exist and not be a
 * list; `destroy S` fails while a rule names S or a list holds it; a list's `size` is at least 4
 * and does not bound its members; `-exist create` of an existing list with another size, or of a
 * `hash:net,iface` with another maxelem, fails as it does in the kernel.
 */
import type { CommandResult, CommandRunner } from '@gingham/host';

export type SimTable = Map<string, string[][]>; // chain → rules (argument tokens)

export interface SimSet {
  type: string;
  members: Set<string>;
  /** `inet` or `inet6` for hash sets (absent: inet); never for `list:set`. */
  family?: 'inet' | 'inet6';
  /** `list:set` only: the size the kernel keeps (at least 4, not a bound on members). */
  size?: number;
  /** `hash:net,iface` only: the maxelem it was created with (the kernel compares it on `-exist create`). */
  maxelem?: number;
}

export interface SimKernel {
  tables: Map<string, SimTable>;
  sets: Map<string, SimSet>;
}

const BUILTIN: Record<string, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export function emptySimKernel(): SimKernel {
  const tables = new Map<string, SimTable>();
  for (const [t, chains] of Object.entries(BUILTIN)) tables.set(t, new Map(chains.map((c) => [c, []])));
  return { tables, sets: new Map() };
}

export function cloneSim(k: SimKernel): SimKernel {
  const tables = new Map<string, SimTable>();
  for (const [t, chains] of k.tables) tables.set(t, new Map([...chains].map(([c, rules]) => [c, rules.map((r) => [...r])])));
  return { tables, sets: new Map([...k.sets].map(([n, s]) => [n, { ...s, members: new Set(s.members) }])) };
}

const tokens = (text: string): string[] => text.trim().split(/\s+/).filter((t) => t.length > 0);

class SimError extends Error {}

/** Whether a rule names `set` or a list holds it (the kernel then refuses to destroy it: "in use by a kernel component"). */
function referenced(k: SimKernel, set: string): boolean {
  for (const t of k.tables.values()) for (const rules of t.values()) for (const r of rules) if (r.some((x, i) => x === set && r[i - 1] === '--match-set')) return true;
  for (const s of k.sets.values()) if (s.type === 'list:set' && s.members.has(set)) return true;
  return false;
}

const LIST_MIN_SIZE = 4;

/** A `create NAME TYPE …` line's options, as the kernel would hold them; unknown options of a list are an error (ipset: "Unknown argument"). */
function createdSet(line: string, type: string, opts: readonly string[]): SimSet {
  const opt = (name: string): string | undefined => {
    const at = opts.indexOf(name);
    return at < 0 ? undefined : opts[at + 1];
  };
  if (type === 'list:set') {
    for (let i = 0; i < opts.length; i += 2) if (opts[i] !== 'size') throw new SimError(`${line}: unknown argument ${opts[i]} for list:set`);
    return { type, members: new Set(), size: Math.max(LIST_MIN_SIZE, Number(opt('size') ?? 8)) };
  }
  const family = opt('family') === 'inet6' ? 'inet6' : 'inet';
  if (type === 'hash:net,iface') return { type, members: new Set(), family, maxelem: Number(opt('maxelem') ?? 65536) };
  return { type, members: new Set(), ...(opt('family') ? { family } : {}) };
}

function jumpsTo(table: SimTable, chain: string): boolean {
  for (const rules of table.values()) for (const r of rules) if (r.some((x, i) => x === chain && (r[i - 1] === '-j' || r[i - 1] === '-g'))) return true;
  return false;
}

/** One `*table … COMMIT` section, applied to a copy and swapped in (atomic), or an error. */
function restoreTable(k: SimKernel, table: string, lines: readonly string[]): void {
  const cur = k.tables.get(table);
  if (!cur) throw new SimError(`no table ${table}`);
  const t: SimTable = new Map([...cur].map(([c, r]) => [c, r.map((x) => [...x])]));
  for (const line of lines) {
    if (line.startsWith(':')) {
      const name = tokens(line.slice(1))[0]!;
      t.set(name, []);
      continue;
    }
    const [op, chain, ...rest] = tokens(line);
    const rules = t.get(chain!);
    if (!rules) throw new SimError(`${line}: no chain ${chain}`);
    const args = rest.map((x) => x.replace(/"/g, ''));
    switch (op) {
      case '-A':
        rules.push(args);
        break;
      case '-F':
        rules.length = 0;
        break;
      case '-I': {
        const pos = Number(args[0]);
        rules.splice(pos - 1, 0, args.slice(1));
        break;
      }
      case '-D': {
        const at = rules.findIndex((r) => r.join(' ') === args.join(' '));
        if (at < 0) throw new SimError(`${line}: no such rule`);
        rules.splice(at, 1);
        break;
      }
      case '-X':
        if (rules.length > 0 || jumpsTo(t, chain!)) throw new SimError(`${line}: chain not empty or in use`);
        t.delete(chain!);
        break;
      default:
        throw new SimError(`unknown restore line ${line}`);
    }
  }
  for (const rules of t.values()) {
    for (const r of rules) {
      r.forEach((x, i) => {
        if ((r[i - 1] === '-j' || r[i - 1] === '-g') && /^[a-z]/.test(x) && !t.has(x)) throw new SimError(`rule jumps to missing chain ${x}`);
        if (r[i - 1] === '--match-set' && !k.sets.has(x)) throw new SimError(`rule names missing set ${x}`);
      });
    }
  }
  k.tables.set(table, t);
}

function ipsetLine(k: SimKernel, line: string): void {
  const [op, name, ...rest] = tokens(line);
  const s = name === undefined ? undefined : k.sets.get(name);
  switch (op) {
    case 'create': {
      const want = createdSet(line, rest[0]!, rest.slice(1));
      if (!s) k.sets.set(name!, want);
      else if (s.type !== want.type) throw new SimError(`${line}: exists with another type`);
      else if (s.size !== want.size || s.maxelem !== want.maxelem) throw new SimError(`${line}: set with the same name already exists`);
      break;
    }
    case 'add': {
      if (!s) throw new SimError(`${line}: no set`);
      const m = rest[0]!;
      if (s.type === 'list:set') {
        const member = k.sets.get(m);
        if (!member) throw new SimError(`${line}: set to be added does not exist`);
        if (member.type === 'list:set') throw new SimError(`${line}: sets with list:set type cannot be added to the set`);
      } else if (s.type === 'hash:net,iface' && !/^[^,]+,[^,]+$/.test(m)) throw new SimError(`${line}: second element is missing`);
      s.members.add(m);
      break;
    }
    case 'del':
      if (!s) throw new SimError(`${line}: no set`);
      s.members.delete(rest[0]!);
      break;
    case 'flush':
      if (!s) throw new SimError(`${line}: no set`);
      s.members.clear();
      break;
    case 'swap': {
      const other = k.sets.get(rest[0]!);
      if (!s || !other || s.type !== other.type) throw new SimError(`${line}: cannot swap`);
      k.sets.set(name!, other);
      k.sets.set(rest[0]!, s);
      break;
    }
    case 'destroy':
      if (s && referenced(k, name!)) throw new SimError(`${line}: set in use`);
      k.sets.delete(name!);
      break;
    default:
      throw new SimError(`unknown ipset line ${line}`);
  }
}

function save(k: SimKernel, table: string): string {
  const t = k.tables.get(table)!;
  const out = [`*${table}`];
  for (const c of t.keys()) out.push(`:${c} ${BUILTIN[table]!.includes(c) ? 'ACCEPT' : '-'} [0:0]`);
  for (const [c, rules] of t) for (const r of rules) out.push(`-A ${c} ${r.join(' ')}`);
  out.push('COMMIT');
  return `${out.join('\n')}\n`;
}

export interface SimRunner extends CommandRunner {
  readonly kernel: SimKernel;
  /** Called after every atomic kernel change. */
  onStep: ((k: SimKernel) => void) | undefined;
  /** Number of atomic changes so far. */
  steps: number;
}

/** A runner over `kernel` (IPv4 tools only; `ipset -exist restore` line by line). */
export function simRunner(kernel: SimKernel = emptySimKernel()): SimRunner {
  const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
  const fail = (e: unknown): CommandResult => ({ code: 1, stdout: '', stderr: e instanceof Error ? e.message : String(e) });
  const self: SimRunner = {
    kernel,
    onStep: undefined,
    steps: 0,
    description: 'a simulated kernel',
    async run(argv, options) {
      const [cmd, ...args] = argv;
      const input = options?.input ?? '';
      const step = (): void => {
        self.steps++;
        self.onStep?.(kernel);
      };
      if (cmd === 'iptables-save' && args[0] === '-t') return ok(save(kernel, args[1]!));
      if (cmd === 'iptables-restore' && args[0] === '--noflush') {
        let table: string | undefined;
        let lines: string[] = [];
        try {
          for (const line of input.split('\n')) {
            if (line.startsWith('*')) {
              table = line.slice(1);
              lines = [];
            } else if (line === 'COMMIT') {
              restoreTable(kernel, table!, lines);
              step();
              table = undefined;
            } else if (line.trim() !== '') lines.push(line);
          }
        } catch (e) {
          return fail(e);
        }
        return ok();
      }
      if (cmd === 'ipset' && args[0] === 'save') {
        const out: string[] = [];
        for (const [n, s] of kernel.sets) {
          if (s.type === 'list:set') out.push(`create ${n} list:set size ${s.size ?? 8}`);
          else out.push(`create ${n} ${s.type} family ${s.family ?? 'inet'} hashsize 1024 maxelem ${s.maxelem ?? 1048576}`);
          for (const m of s.members) out.push(`add ${n} ${m}`);
        }
        return ok(`${out.join('\n')}\n`);
      }
      if (cmd === 'ipset' && args.join(' ') === '-exist restore') {
        try {
          for (const line of input.split('\n')) {
            if (line.trim() === '') continue;
            ipsetLine(kernel, line);
            step();
          }
        } catch (e) {
          return fail(e);
        }
        return ok();
      }
      if (cmd === 'ip' && args.join(' ') === '-j addr show') return ok('[]');
      throw new Error(`kernel-sim: unexpected command ${argv.join(' ')}`);
    },
    spawn: () => Promise.reject(new Error('kernel-sim: no daemons')),
    open: () => Promise.reject(new Error('kernel-sim: no interactive children')),
  };
  return self;
}

/** A new TCP connection's first packet, forwarded from one interface to another. */
export interface SimPacket {
  readonly in: string;
  readonly out: string;
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
}

/** A new TCP connection's first packet through the host: forwarded, to the host itself, or from it. */
export interface SimFlow {
  readonly hook: 'forward' | 'input' | 'output';
  /** Arrival interface (forward, input). */
  readonly in?: string;
  /** Departure interface (forward, output). */
  readonly out?: string;
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
  /** The host's own addresses (`-m addrtype --dst-type LOCAL`). */
  readonly local?: readonly string[];
}

function v4(ip: string): number {
  return ip.split('.').reduce((n, x) => n * 256 + Number(x), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/') as [string, string | undefined];
  const bits = len === undefined ? 32 : Number(len);
  if (net.includes(':')) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((v4(ip) & mask) >>> 0) === ((v4(net) & mask) >>> 0);
}

function ifaceMatch(pattern: string, iface: string): boolean {
  return pattern.endsWith('+') ? iface.startsWith(pattern.slice(0, -1)) : iface === pattern;
}

function portsMatch(list: string, port: number): boolean {
  return list.split(',').some((p) => {
    const [a, b] = p.split(':');
    return b === undefined ? Number(a) === port : port >= Number(a) && port <= Number(b);
  });
}

type Outcome = 'ACCEPT' | 'DROP' | 'RETURN';

/**
 * `-m set --match-set NAME flags` for a packet, by the set's type as the kernel tests it: the
 * first flag picks the address; the second the port (`hash:net,port`) or the interface
 * (`hash:net,iface`: `src` the in-, `dst` the out-interface; a packet with no such interface does
 * not match); a `list:set` passes the flags to its members and matches when one does. Fewer
 * flags than the set has dimensions never match in the kernel; here that is an error, as a
 * rule that cannot match is a renderer bug.
 */
export function setMatches(k: SimKernel, name: string, flags: readonly string[], p: Pick<SimFlow, 'in' | 'out' | 'src' | 'dst' | 'dport'>, depth = 0): boolean {
  const s = k.sets.get(name);
  if (!s) throw new Error(`kernel-sim: a rule names missing set ${name}`);
  if (flags.some((f) => f !== 'src' && f !== 'dst')) throw new Error(`kernel-sim: unknown set flags ${flags.join(',')}`);
  const addr = flags[0] === 'src' ? p.src : p.dst;
  switch (s.type) {
    case 'hash:net':
      for (const m of s.members) if (inCidr(addr, m)) return true;
      return false;
    case 'hash:net,port':
      if (flags.length < 2) throw new Error(`kernel-sim: ${name} (hash:net,port) needs two flags`);
      return s.members.has(`${addr}/32,tcp:${flags[1] === 'src' ? 40000 : p.dport}`);
    case 'hash:net,iface': {
      if (flags.length < 2) throw new Error(`kernel-sim: ${name} (hash:net,iface) needs two flags`);
      const iface = flags[1] === 'src' ? p.in : p.out;
      if (iface === undefined) return false;
      for (const m of s.members) {
        const [net, dev] = m.split(',') as [string, string];
        if (dev === iface && inCidr(addr, net.includes('/') ? net : `${net}/32`)) return true;
      }
      return false;
    }
    case 'list:set':
      if (depth > 0) throw new Error(`kernel-sim: list:set ${name} inside a list`);
      for (const m of s.members) if (setMatches(k, m, flags, p, depth + 1)) return true;
      return false;
    default:
      throw new Error(`kernel-sim: unknown set type ${s.type} of ${name}`);
  }
}

/** The verdict of the hooks for a forwarded new TCP connection (conntrack state NEW, mark 0). */
export function forwardVerdict(k: SimKernel, p: SimPacket): boolean {
  return flowVerdict(k, { hook: 'forward', ...p });
}

const PATHS: Record<SimFlow['hook'], readonly (readonly [string, string])[]> = {
  forward: [['raw', 'PREROUTING'], ['mangle', 'PREROUTING'], ['filter', 'FORWARD']],
  input: [['raw', 'PREROUTING'], ['mangle', 'PREROUTING'], ['filter', 'INPUT']],
  output: [['raw', 'OUTPUT'], ['mangle', 'OUTPUT'], ['filter', 'OUTPUT']],
};

/** Whether the first packet of a new TCP connection gets through every table on its path (mark 0, conntrack NEW). */
export function flowVerdict(k: SimKernel, p: SimFlow): boolean {
  const state = { mark: 0, ct: 'NEW' };
  for (const [table, hook] of PATHS[p.hook]) {
    // Before routing the departure interface is unknown; in OUTPUT there is no arrival interface.
    const beforeRouting = hook === 'PREROUTING';
    if (tableVerdict(k, table, hook, { ...p, in: p.hook === 'output' ? undefined : p.in, out: beforeRouting || hook === 'INPUT' ? undefined : p.out }, state) === 'DROP') return false;
  }
  return true;
}

function tableVerdict(k: SimKernel, table: string, hook: string, p: SimFlow, state: { mark: number; ct: string }): Outcome {
  const t = k.tables.get(table)!;
  const iface = (which: 'in' | 'out'): string => {
    const v = p[which];
    if (v === undefined) throw new Error(`kernel-sim: ${which === 'in' ? '-i' : '-o'} in a rule reached from ${table} ${hook}`);
    return v;
  };
  const setHas = (name: string, dirs: string): boolean => setMatches(k, name, dirs.split(','), p);
  const run = (chain: string, depth: number): Outcome => {
    if (depth > 50) throw new Error('kernel-sim: jump loop');
    const rules = t.get(chain);
    if (!rules) throw new Error(`kernel-sim: jump to missing chain ${chain}`);
    for (const r of rules) {
      let matched = true;
      let neg = false;
      let target: string | undefined;
      let goto = false;
      let i = 0;
      const test = (v: boolean): void => {
        if (v === neg) matched = false;
        neg = false;
      };
      while (i < r.length && matched && target === undefined) {
        const x = r[i]!;
        switch (x) {
          case '!':
            neg = true;
            i++;
            break;
          case '-m':
            i += 2;
            break;
          case '--comment':
            i += 2;
            break;
          case '-i':
            test(ifaceMatch(r[i + 1]!, iface('in')));
            i += 2;
            break;
          case '-o':
            test(ifaceMatch(r[i + 1]!, iface('out')));
            i += 2;
            break;
          case '-s':
            test(inCidr(p.src, r[i + 1]!));
            i += 2;
            break;
          case '-d':
            test(inCidr(p.dst, r[i + 1]!));
            i += 2;
            break;
          case '-p':
            test(r[i + 1] === '6' || r[i + 1] === 'tcp');
            i += 2;
            break;
          case '--ctstate':
            test(r[i + 1]!.split(',').includes(state.ct));
            i += 2;
            break;
          case '--mark': {
            const [v, m] = r[i + 1]!.split('/').map((n) => Number(n)) as [number, number];
            test(((state.mark & m) >>> 0) === v);
            i += 2;
            break;
          }
          case '--match-set':
            test(setHas(r[i + 1]!, r[i + 2]!));
            i += 3;
            break;
          case '--dports':
            test(portsMatch(r[i + 1]!, p.dport));
            i += 2;
            break;
          case '--sports':
            test(portsMatch(r[i + 1]!, 40000));
            i += 2;
            break;
          case '--dport':
            test(Number(r[i + 1]) === p.dport);
            i += 2;
            break;
          case '--sport':
            test(Number(r[i + 1]) === 40000);
            i += 2;
            break;
          case '--dst-type':
            if (r[i + 1] !== 'LOCAL') throw new Error(`kernel-sim: unknown address type ${r[i + 1]}`);
            test((p.local ?? []).includes(p.dst));
            i += 2;
            break;
          case '--icmp-type':
          case '--icmpv6-type':
            test(false);
            i += 2;
            break;
          case '-j':
          case '-g':
            goto = x === '-g';
            target = r[i + 1]!;
            i += 2;
            break;
          default:
            throw new Error(`kernel-sim: unknown token ${x} in ${r.join(' ')}`);
        }
      }
      if (!matched || target === undefined) continue;
      switch (target) {
        case 'ACCEPT':
          return 'ACCEPT';
        case 'DROP':
        case 'REJECT':
          return 'DROP';
        case 'RETURN':
          return 'RETURN';
        case 'NFLOG':
          continue;
        case 'NOTRACK':
          if (table !== 'raw') throw new Error('kernel-sim: NOTRACK outside raw');
          state.ct = 'UNTRACKED';
          continue;
        case 'MARK': {
          const [v, m] = r[r.indexOf('--set-xmark') + 1]!.split('/').map((n) => Number(n)) as [number, number];
          state.mark = ((state.mark & ~m) ^ v) >>> 0;
          continue;
        }
        default: {
          const out = run(target, depth + 1);
          if (out !== 'RETURN') return out;
          if (goto) return 'RETURN';
        }
      }
    }
    return 'RETURN';
  };
  return run(hook, 0);
}
