/**
 * The pin layout of one eBPF dataplane instance in bpffs, and reading it back. Everything a
 * later process (a restart, `gingham enforce --clean`) needs to find lives here, so the layout
 * is the dataplane's persistent state:
 *
 *   <bpffs>/gingham/<name>/
 *     conntrack events counters meta   shared maps, pinned by name by the object (LIBBPF_PIN_BY_NAME)
 *     g<N>/endpoints slots classes sports verdicts gingham_tc
 *                                      one generation: the five policy maps and the program bound to them
 *     links/<direction>-<ifname>       tcx: the pinned link holding the program on that hook
 *     tc/[pending-]<direction>-<q|k>-<ifindex>-<ifname>
 *                                      tc mode: an empty directory marking a cls_bpf filter of ours,
 *                                      made BEFORE the first change on that hook (`pending-`) and
 *                                      renamed once the filter holds the program (q: the clsact qdisc
 *                                      is ours, k: it was there already; the ifindex tells a recreated
 *                                      interface from the original)
 *     tmp/tc-<pid>-<hex>               tc mode: the program pinned for a moment so that `tc` can take it
 *                                      (a crash can leave one; the next build or clean removes it)
 *
 * Interface names are escaped (bpffs rejects '.' in names). Never touches anything outside
 * `<bpffs>/gingham/<name>/` except removing `<bpffs>/gingham` when it is left empty, and the
 * temporary pins older versions left at the bpffs root (`gingham_tc_<pid>_<hex>`, see
 * `legacyTempPins`).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unpin } from '@gingham/ebpf-loader';
import type { TcDirection } from '@gingham/ebpf-loader';
import { EbpfDataplaneError } from './errors.js';

const NAME = /^[a-z0-9-]{1,32}$/;

export function checkName(name: string): string {
  if (!NAME.test(name)) {
    throw new EbpfDataplaneError('EBPF_INVALID_ARGUMENT', `dataplane name "${name}" must match [a-z0-9-]{1,32}`, { detail: [name] });
  }
  return name;
}

/** `eth0.100` -> `eth0%2e100`: bpffs names may not contain '.'; other bytes are %-escaped (UTF-8) too. */
export function encodeIfname(ifname: string): string {
  return ifname.replace(/[^A-Za-z0-9_-]/gu, (c) => [...Buffer.from(c, 'utf8')].map((x) => `%${x.toString(16).padStart(2, '0')}`).join(''));
}

export function decodeIfname(s: string): string {
  return decodeURIComponent(s);
}

export interface PinnedAttachment {
  readonly ifname: string;
  readonly direction: TcDirection;
  readonly kind: 'tcx' | 'tc';
  /** tc mode: the clsact qdisc was created by us. */
  readonly createdQdisc: boolean;
  /** tc mode: the interface index the filter was installed on (0 for tcx). */
  readonly ifindex: number;
  /** tc mode: recorded before the attach, not confirmed: the filter may or may not be in place. */
  readonly pending: boolean;
  /** The pin (tcx) or marker directory (tc). */
  readonly path: string;
}

/** Is a process with this id alive (or is it not ours to tell)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class PinLayout {
  readonly root: string;
  readonly bpffs: string;

  constructor(bpffs: string, name: string) {
    this.bpffs = bpffs;
    this.root = join(bpffs, 'gingham', checkName(name));
  }

  /** Instance roots next to this one (`<bpffs>/gingham/*`), this one excluded. */
  siblings(): string[] {
    const parent = join(this.root, '..');
    if (!existsSync(parent)) return [];
    return readdirSync(parent).map((f) => join(parent, f)).filter((p) => p !== this.root);
  }

  generationDir(n: number): string {
    return join(this.root, `g${n}`);
  }

  /** Where tc-mode attaches pin the program for a moment. */
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  tcxLink(ifname: string, direction: TcDirection): string {
    return join(this.root, 'links', `${direction}-${encodeIfname(ifname)}`);
  }

  tcMarker(ifname: string, direction: TcDirection, createdQdisc: boolean, ifindex: number, pending = false): string {
    return join(this.root, 'tc', `${pending ? 'pending-' : ''}${direction}-${createdQdisc ? 'q' : 'k'}-${ifindex}-${encodeIfname(ifname)}`);
  }

  /** Generation numbers present, ascending. */
  generations(): number[] {
    return PinLayout.generationsIn(this.root);
  }

  static generationsIn(root: string): number[] {
    if (!existsSync(root)) return [];
    return readdirSync(root)
      .map((f) => /^g(\d+)$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** Every attachment recorded in pins (tc markers pending or confirmed). */
  attachments(): PinnedAttachment[] {
    const out: PinnedAttachment[] = [];
    const links = join(this.root, 'links');
    if (existsSync(links)) {
      for (const f of readdirSync(links).sort()) {
        const m = /^(ingress|egress)-(.+)$/.exec(f);
        if (m) out.push({ ifname: decodeIfname(m[2]!), direction: m[1] as TcDirection, kind: 'tcx', createdQdisc: false, ifindex: 0, pending: false, path: join(links, f) });
      }
    }
    const tc = join(this.root, 'tc');
    if (existsSync(tc)) {
      for (const f of readdirSync(tc).sort()) {
        const m = /^(pending-)?(ingress|egress)-([qk])-(\d+)-(.+)$/.exec(f);
        if (m) {
          out.push({
            ifname: decodeIfname(m[5]!), direction: m[2] as TcDirection, kind: 'tc', createdQdisc: m[3] === 'q',
            ifindex: Number(m[4]), pending: m[1] !== undefined, path: join(tc, f),
          });
        }
      }
    }
    return out;
  }

  /**
   * The recorded hooks of `names` only: the two tcx link pins of each looked up by path, the tc
   * markers read from their directory (small: tc mode records one per hook). What a re-check of
   * a few reported interfaces reads instead of listing every link pin.
   */
  attachmentsOf(names: ReadonlySet<string>): PinnedAttachment[] {
    const out: PinnedAttachment[] = [];
    for (const ifname of names) {
      for (const direction of ['ingress', 'egress'] as const) {
        const path = this.tcxLink(ifname, direction);
        if (existsSync(path)) out.push({ ifname, direction, kind: 'tcx', createdQdisc: false, ifindex: 0, pending: false, path });
      }
    }
    if (existsSync(join(this.root, 'tc'))) out.push(...this.attachments().filter((a) => a.kind === 'tc' && names.has(a.ifname)));
    return out;
  }

  mark(path: string): void {
    mkdirSync(path, { recursive: true });
  }

  /** Turns a pending tc marker into a confirmed one (an atomic rename in bpffs). */
  confirm(a: PinnedAttachment): void {
    renameSync(a.path, this.tcMarker(a.ifname, a.direction, a.createdQdisc, a.ifindex));
  }

  /** Unpins everything below `path` (files are pins, directories are removed bottom-up); returns the pins removed. */
  removeTree(path: string): number {
    if (!existsSync(path)) return 0;
    if (!statSync(path).isDirectory()) {
      unpin(path);
      return 1;
    }
    let n = 0;
    for (const f of readdirSync(path)) n += this.removeTree(join(path, f));
    rmdirSync(path);
    return n;
  }

  /** Pins (files) below `path`. */
  countPins(path: string = this.root): number {
    if (!existsSync(path)) return 0;
    if (!statSync(path).isDirectory()) return 1;
    return readdirSync(path).reduce((n, f) => n + this.countPins(join(path, f)), 0);
  }

  /** Removes the whole instance, then `<bpffs>/gingham` when nothing else is left in it; returns the pins removed. */
  removeAll(): number {
    const n = this.removeTree(this.root);
    const parent = join(this.root, '..');
    if (existsSync(parent) && readdirSync(parent).length === 0) rmdirSync(parent);
    return n;
  }

  /**
   * Temporary program pins that versions before the tmp/ directory left at the bpffs root
   * (`gingham_tc_<pid>_<hex>`) when killed during a tc-mode attach, whose process is gone.
   */
  legacyTempPins(): string[] {
    if (!existsSync(this.bpffs)) return [];
    return readdirSync(this.bpffs)
      .map((f) => [f, /^gingham_tc_(\d+)_[0-9a-f]{8}$/.exec(f)] as const)
      .filter(([, m]) => m !== null && !alive(Number(m[1])))
      .map(([f]) => join(this.bpffs, f));
  }
}
