/**
 * A problem found in input: what is wrong, where (file, line, column, field path) and in which
 * resource. Rendered by `formatIssue` as `file:line:col: <kind>/<name> <field.path>: <reason>`.
 */
export interface Issue {
  readonly severity: 'error' | 'warning';
  /** Stable code, e.g. `invalid-selector`, `invalid-cidr`, `unknown-kind`, `yaml-syntax`. */
  readonly code: string;
  readonly message: string;
  /** File name as given to the loader (`<input>` when none). */
  readonly file: string;
  /** 1-based; 0 when unknown. */
  readonly line: number;
  /** 1-based; 0 when unknown. */
  readonly col: number;
  /** Resource kind, or `-` when the document has none. */
  readonly kind: string;
  /** `namespace/name` or `name`, or `-`. */
  readonly name: string;
  /** Dotted field path with indexes, e.g. `spec.ingress[0].source.nets[1]`; empty for the whole document. */
  readonly path: string;
}

export function formatIssue(issue: Issue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  const path = issue.path === '' ? '' : ` ${issue.path}`;
  const prefix = issue.severity === 'warning' ? 'warning: ' : '';
  return `${where}: ${prefix}${issue.kind}/${issue.name}${path}: ${issue.message}`;
}
