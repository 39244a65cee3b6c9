/**
 * The pure, editable description of BPF objects (as in cilium/ebpf): a `CollectionSpec` holds
 * `MapSpec`s and `ProgramSpec`s. Specs are plain data; nothing here touches the kernel, and a
 * spec can be edited (resize a map, change a program type) before `createCollection`.
 */

export const MAP_TYPES = {
  hash: 1, array: 2, prog_array: 3, perf_event_array: 4, percpu_hash: 5, percpu_array: 6,
  lru_hash: 9, lru_percpu_hash: 10, lpm_trie: 11, array_of_maps: 12, hash_of_maps: 13,
  queue: 22, stack: 23, ringbuf: 27,
} as const;

/** Map types this loader knows by name. */
export type MapType = keyof typeof MAP_TYPES;

export const PROGRAM_TYPES = {
  socket_filter: 1, kprobe: 2, sched_cls: 3, sched_act: 4, tracepoint: 5, xdp: 6,
} as const;

/** Program types this loader knows by name. */
export type ProgramType = keyof typeof PROGRAM_TYPES;

/** Map flags (BPF_F_*). */
export const MAP_FLAGS = {
  NO_PREALLOC: 1 << 0,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
} as const;

export interface MapSpec {
  /** Name in the ELF (symbol) and, truncated to 15 characters, in the kernel. */
  name: string;
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* flags. */
  flags: number;
  /** `by-name` pins under `pinPath/<name>` and reuses an existing pin (LIBBPF_PIN_BY_NAME). */
  pinning: 'none' | 'by-name';
  /** Initial contents written after creation (global data sections use this). */
  contents?: Array<{ key: Uint8Array; value: Uint8Array }>;
  /** Freeze the map from user space after writing `contents` (`.rodata`). */
  freeze?: boolean;
}

/** A load-time reference from an instruction to a map (fixed up with the map's fd). */
export interface MapReference {
  /** Index of the `ld_imm64` instruction (8-byte slots). */
  index: number;
  /** `fd`: the instruction loads the map pointer; `value`: a pointer into a global data map. */
  kind: 'fd' | 'value';
  map: string;
  /** Byte offset into the map value for `kind: 'value'`. */
  offset: number;
}

/** BTF handed to the kernel with a program, so verifier logs and tools show source lines. */
export interface ProgramBtf {
  /** The object's BTF, fixed up for the kernel (shared by every program of one object). */
  raw: Uint8Array;
  /** `struct bpf_func_info` records, insn_off already in instructions of `instructions`. */
  funcInfo: Uint8Array;
  funcInfoRecSize: number;
  /** `struct bpf_line_info` records, likewise. */
  lineInfo: Uint8Array;
  lineInfoRecSize: number;
}

export interface ProgramSpec {
  /** Function name in the ELF. */
  name: string;
  /** ELF section, e.g. `tc`, `tcx/ingress`, `xdp`. */
  sectionName: string;
  type: ProgramType;
  /** Expected attach type (numeric `enum bpf_attach_type`), when the kernel wants one. */
  expectedAttachType?: number;
  license: string;
  /** Raw instructions (8 bytes each), with bpf-to-bpf callees already appended. */
  instructions: Uint8Array;
  /** Map references resolved at load time. */
  references: MapReference[];
  /** Program BTF (func_info/line_info); delete it after editing `instructions` by hand. */
  btf?: ProgramBtf;
}

export interface CollectionSpec {
  maps: Record<string, MapSpec>;
  programs: Record<string, ProgramSpec>;
}

/** Deep copy, so one parsed object can be edited and loaded several times. */
export function copyCollectionSpec(spec: CollectionSpec): CollectionSpec {
  return structuredClone(spec);
}
