/**
 * Limits that keep hostile input (huge files, billion-laughs aliases, deep nesting, giant
 * scalars, millions of documents) from hanging or exhausting memory. Each is checked as early
 * as possible, before the expensive step it protects.
 */

export interface LoadOptions {
  /** Total size of all inputs, in UTF-8 bytes. Default 16 MiB. */
  readonly maxInputBytes?: number;
  /** YAML documents plus `List` items, over all inputs. Default 100,000. */
  readonly maxDocuments?: number;
  /** Nesting of mappings and sequences. Default 64. */
  readonly maxDepth?: number;
  /** Length of one scalar (key or value), in characters. Default 1 MiB. */
  readonly maxScalarLength?: number;
  /** YAML alias expansion budget (yaml's `maxAliasCount`). Default 100. */
  readonly maxAliasCount?: number;
  /** Stop after this many issues. Default 10,000. */
  readonly maxIssues?: number;
}

export type Limits = Required<LoadOptions>;

export const DEFAULT_LIMITS: Limits = {
  maxInputBytes: 16 * 1024 * 1024,
  maxDocuments: 100_000,
  maxDepth: 64,
  maxScalarLength: 1024 * 1024,
  maxAliasCount: 100,
  maxIssues: 10_000,
};

export function resolveLimits(options: LoadOptions = {}): Limits {
  const pick = (key: keyof Limits): number => {
    const v = options[key];
    if (v === undefined) return DEFAULT_LIMITS[key];
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new RangeError(`gingham: LoadOptions.${key} must be a non-negative number`);
    return v;
  };
  return {
    maxInputBytes: pick('maxInputBytes'),
    maxDocuments: pick('maxDocuments'),
    maxDepth: pick('maxDepth'),
    maxScalarLength: pick('maxScalarLength'),
    maxAliasCount: pick('maxAliasCount'),
    maxIssues: pick('maxIssues'),
  };
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
