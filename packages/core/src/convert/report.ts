/**
 * Collects conversion issues for one resource, filling in file/line (via an optional locator),
 * kind and name. Conversion never throws for bad input: it reports and degrades safely.
 */
import type { Issue } from '../model/issues.js';
import type { Resource } from '../model/resources.js';

/** Where a resource came from, when the caller knows (e.g. the YAML loader). */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export type SourceLocator = (resource: Resource) => SourcePosition | undefined;

export interface ConvertOptions {
  /** Maps a resource to its position in the input, for issue messages. */
  readonly locate?: SourceLocator;
}

/** The outcome of converting one resource: the value (absent if it was skipped) and issues. */
export interface Converted<T> {
  readonly value: T | undefined;
  readonly issues: Issue[];
}

export class Reporter {
  readonly issues: Issue[] = [];
  private readonly position: SourcePosition;
  private readonly kind: string;
  private readonly name: string;

  constructor(resource: Resource | undefined, options: ConvertOptions | undefined) {
    this.position = (resource && options?.locate?.(resource)) || { file: '<input>', line: 0, col: 0 };
    this.kind = resource?.kind || '-';
    const meta = resource?.metadata;
    this.name = !meta?.name ? '-' : meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
  }

  warn(code: string, path: string, message: string): void {
    this.push('warning', code, path, message);
  }

  error(code: string, path: string, message: string): void {
    this.push('error', code, path, message);
  }

  private push(severity: Issue['severity'], code: string, path: string, message: string): void {
    this.issues.push({
      severity,
      code,
      message,
      file: this.position.file,
      line: this.position.line,
      col: this.position.col,
      kind: this.kind,
      name: this.name,
      path,
    });
  }

  done<T>(value: T | undefined): Converted<T> {
    return { value, issues: this.issues };
  }

  /** The resource was skipped. */
  skip<T>(): Converted<T> {
    return { value: undefined, issues: this.issues };
  }
}
