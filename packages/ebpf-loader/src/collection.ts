/**
 * `createCollection`: turn a `CollectionSpec` into live maps and programs. Maps are created first
 * (or reopened from `pinPath` when pinned by name), then programs are loaded against them. On any
 * failure everything created so far is closed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from './errors.js';
import { BpfMap } from './map.js';
import { BpfProgram, loadBtf } from './program.js';
import { closeFd } from './syscall.js';
import type { CollectionSpec, MapSpec } from './spec.js';

export interface CollectionOptions {
  /** Directory in bpffs for maps with `pinning: 'by-name'`; without it they are not pinned. */
  pinPath?: string;
  /** Verifier log level for every program (see `ProgramLoadOptions.logLevel`). */
  logLevel?: number;
  /** Load only these programs (default: all). */
  programs?: readonly string[];
  /** Hand program BTF (func_info/line_info) to the kernel when the object has it (default true). */
  btf?: boolean;
}

/** Live maps and programs of one object; `close()` releases every fd (pins stay). */
export interface Collection {
  readonly maps: Readonly<Record<string, BpfMap>>;
  readonly programs: Readonly<Record<string, BpfProgram>>;
  /** A map by name; throws `BPF_INVALID_ARGUMENT` when missing. */
  map(name: string): BpfMap;
  /** A program by name; throws `BPF_INVALID_ARGUMENT` when missing. */
  program(name: string): BpfProgram;
  close(): void;
  [Symbol.dispose](): void;
}

function compatible(m: BpfMap, spec: MapSpec): boolean {
  return m.type === spec.type && m.keySize === spec.keySize && m.valueSize === spec.valueSize
    && m.maxEntries === spec.maxEntries;
}

/** Create the maps and load the programs of `spec`. */
export function createCollection(spec: CollectionSpec, options: CollectionOptions = {}): Collection {
  const maps: Record<string, BpfMap> = {};
  const btfFds = new Map<Uint8Array, number>();
  const programs: Record<string, BpfProgram> = {};
  const closeAll = (): void => {
    for (const p of Object.values(programs)) p.close();
    for (const m of Object.values(maps)) m.close();
  };
  try {
    for (const [name, ms] of Object.entries(spec.maps)) {
      if (ms.pinning === 'by-name' && options.pinPath) {
        const path = join(options.pinPath, ms.name);
        if (existsSync(path)) {
          const m = BpfMap.fromPin(path);
          if (!compatible(m, ms)) {
            m.close();
            throw new BpfError('BPF_INVALID_ARGUMENT', `pinned map ${path} does not match the spec of ${name} (type, key/value size or max entries differ)`);
          }
          maps[name] = m;
          continue;
        }
        const m = BpfMap.create(ms);
        maps[name] = m;
        m.pin(path);
        continue;
      }
      maps[name] = BpfMap.create(ms);
    }
    const wanted = options.programs ?? Object.keys(spec.programs);
    for (const name of wanted) {
      const ps = spec.programs[name];
      if (!ps) throw new BpfError('BPF_INVALID_ARGUMENT', `no program ${name} in the collection spec`);
      // One kernel BTF object per distinct raw BTF (all programs of one object share it).
      let btfFd: number | undefined;
      if (ps.btf && options.btf !== false) {
        if (!btfFds.has(ps.btf.raw)) {
          try { btfFds.set(ps.btf.raw, loadBtf(ps.btf.raw)); } catch { btfFds.set(ps.btf.raw, -1); }
        }
        btfFd = btfFds.get(ps.btf.raw);
      }
      programs[name] = BpfProgram.load(ps, {
        maps,
        ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
        ...(btfFd !== undefined && btfFd >= 0 ? { btfFd } : { btf: false }),
      });
    }
  } catch (e) {
    closeAll();
    throw e;
  } finally {
    for (const fd of btfFds.values()) if (fd >= 0) closeFd(fd);
  }
  return {
    maps,
    programs,
    map: (name) => maps[name] ?? missing('map', name),
    program: (name) => programs[name] ?? missing('program', name),
    close: closeAll,
    [Symbol.dispose]: closeAll,
  };
}

function missing(kind: string, name: string): never {
  throw new BpfError('BPF_INVALID_ARGUMENT', `no ${kind} named ${name} in this collection`);
}
