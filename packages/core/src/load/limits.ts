/**
 * Limits that keep hostile input (huge files, billion-laughs aliases, deep nesting, giant
 * scalars, millions of documents, nodes or rules) from hanging or exhausting memory. Each is
 * checked as early as possible, before the expensive step it protects: the counts are taken on
 * the parser's token stream, before a document is composed into a tree.
 */

export interface LoadOptions {
  /** Total size of all inputs, in UTF-8 bytes. Default 16 MiB. */
  readonly maxInputBytes?: number;
  /** YAML documents plus `List` items, over all inputs. Default 100,000. */
  readonly maxDocuments?: number;
  /**
   * YAML nodes over all inputs, counted on the token stream before any tree is built: scalars,
   * aliases, flow collections and the entry indicators `-`, `?`, `:` and `,`. Default 4,000,000
   * (a realistic 16 MiB of manifests has about 2.5 million).
   */
  readonly maxNodes?: number;
  /**
   * YAML nodes of one document, counted the same way. This bounds memory: a document's tree is
   * built whole (several hundred bytes a node) and dropped once it is checked. Default 250,000
   * (a List of some 1,500 pods with their status, or 10,000 small policies).
   */
  readonly maxNodesPerDocument?: number;
  /**
   * Rules (`ingress` plus `egress` items) of one policy, counted as they stream in. Default
   * 2,500: above what validation accepts of the kinds that have a limit (Calico: 1,024 a
   * direction), so that only hostile input meets it, and low enough that a 100,000-rule policy
   * is refused after reading a fortieth of it.
   */
  readonly maxRulesPerPolicy?: number;
  /** Rules of all policies over all inputs. Default 200,000. */
  readonly maxRules?: number;
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
  maxNodes: 4_000_000,
  maxNodesPerDocument: 250_000,
  maxRulesPerPolicy: 2_500,
  maxRules: 200_000,
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
  const out = {} as Record<keyof Limits, number>;
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) out[key] = pick(key);
  return out;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

