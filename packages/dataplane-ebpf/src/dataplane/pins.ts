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
 *     tc/<direction>-<q|k>-<ifindex>-<ifname>
 *                                      tc mode: an empty directory marking a cls_bpf filter of ours
 *                                      (q: we created the clsact qdisc, k: it was there already;
 *                                      the ifindex tells a recreated interface from the original)
 *
 * Interface names are escaped (bpffs rejects '.' in names). Never touches anything outside
 * `<bpffs>/gingham/<name>/` except removing `<bpffs>/gingham` when it is left empty.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
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
  /** The pin (tcx) or marker directory (tc). */
  readonly path: string;
}

export class PinLayout {
  readonly root: string;

  constructor(bpffs: string, name: string) {
    this.root = join(bpffs, 'gingham', checkName(name));
  }

  generationDir(n: number): string {
    return join(this.root, `g${n}`);
  }

  tcxLink(ifname: string, direction: TcDirection): string {
    return join(this.root, 'links', `${direction}-${encodeIfname(ifname)}`);
  }

  tcMarker(ifname: string, direction: TcDirection, createdQdisc: boolean, ifindex: number): string {
    return join(this.root, 'tc', `${direction}-${createdQdisc ? 'q' : 'k'}-${ifindex}-${encodeIfname(ifname)}`);
  }

  /** Generation numbers present, ascending. */
  generations(): number[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .map((f) => /^g(\d+)$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** Every attachment recorded in pins. */
  attachments(): PinnedAttachment[] {
    const out: PinnedAttachment[] = [];
    const links = join(this.root, 'links');
    if (existsSync(links)) {
      for (const f of readdirSync(links).sort()) {
        const m = /^(ingress|egress)-(.+)$/.exec(f);
        if (m) out.push({ ifname: decodeIfname(m[2]!), direction: m[1] as TcDirection, kind: 'tcx', createdQdisc: false, ifindex: 0, path: join(links, f) });
      }
    }
    const tc = join(this.root, 'tc');
    if (existsSync(tc)) {
      for (const f of readdirSync(tc).sort()) {
        const m = /^(ingress|egress)-([qk])-(\d+)-(.+)$/.exec(f);
        if (m) out.push({ ifname: decodeIfname(m[4]!), direction: m[1] as TcDirection, kind: 'tc', createdQdisc: m[2] === 'q', ifindex: Number(m[3]), path: join(tc, f) });
      }
    }
    return out;
  }

  mark(path: string): void {
    mkdirSync(path, { recursive: true });
  }

  /** Unpins everything below `path` (files are pins, directories are removed bottom-up). */
  removeTree(path: string): void {
    if (!existsSync(path)) return;
    if (!statSync(path).isDirectory()) {
      unpin(path);
      return;
    }
    for (const f of readdirSync(path)) this.removeTree(join(path, f));
    rmdirSync(path);
  }

  /** Removes the whole instance, then `<bpffs>/gingham` when nothing else is left in it. */
  removeAll(): void {
    this.removeTree(this.root);
    const parent = join(this.root, '..');
    if (existsSync(parent) && readdirSync(parent).length === 0) rmdirSync(parent);
  }
}
