// Types of addon-elf.mjs (a plain script module so that build-prebuilds.mjs runs without a build).

/** e_machine values of the architectures we ship, by Node's `process.arch` name. */
export declare const MACHINES: { readonly x64: 62; readonly arm64: 183 };

export interface AddonImport {
  readonly name: string;
  readonly weak: boolean;
  /** Symbol version, e.g. `GLIBC_2.14`; absent for N-API functions (resolved from node). */
  readonly version?: string;
  /** The library the version belongs to, e.g. `libc.so.6`. */
  readonly file?: string;
}

export interface AddonInfo {
  readonly machine: number;
  /** DT_NEEDED libraries. */
  readonly needed: readonly string[];
  readonly imports: readonly AddonImport[];
  readonly exports: readonly string[];
  /** What `node_api_module_get_api_version_v1` returns, decoded from its machine code. */
  readonly napiVersion: number | undefined;
  /** The newest GLIBC_x.y symbol version it needs. */
  readonly glibc: string | undefined;
}

/** Reads an ELF64 little-endian shared object (an N-API addon) without loading it. */
export declare function readAddon(bytes: Uint8Array): AddonInfo;

/** What is wrong with `info` as the prebuild for `arch`; empty when it is fit to ship. */
export declare function addonProblems(info: AddonInfo, arch: string, napiVersion: number): string[];
