/**
 * The issue sink every validator writes to. It knows which resource (file, kind, name) is being
 * checked and how to turn a field path into a line and column, so validators only say what is
 * wrong and where in the resource.
 */
import type { Issue } from '../model/issues.js';
import { formatPath, type FieldPath } from './path.js';

/** 1-based line and column; 0 when unknown. */
export interface Position {
  readonly line: number;
  readonly col: number;
}

/**
 * Maps a field path to a position in the source text. `part: 'key'` asks for the mapping key
 * (`ingres:` for an unknown field) rather than its value. Paths that do not exist in the source
 * map to the deepest part that does.
 */
export type Locate = (path: FieldPath, part?: 'key' | 'value') => Position;

export const NOWHERE: Locate = () => ({ line: 0, col: 0 });

export interface Reporter {
  readonly issues: Issue[];
  error(code: string, path: FieldPath, message: string, part?: 'key' | 'value'): void;
  warn(code: string, path: FieldPath, message: string, part?: 'key' | 'value'): void;
}

export interface ReporterOptions {
  readonly file: string;
  readonly kind: string;
  readonly name: string;
  readonly at: Locate;
  /** Appends to this array instead of a new one. */
  readonly issues?: Issue[];
}

export function createReporter(options: ReporterOptions): Reporter {
  const issues = options.issues ?? [];
  const add = (severity: Issue['severity'], code: string, path: FieldPath, message: string, part?: 'key' | 'value'): void => {
    const { line, col } = options.at(path, part);
    issues.push({ severity, code, message, file: options.file, line, col, kind: options.kind, name: options.name, path: formatPath(path) });
  };
  return {
    issues,
    error: (code, path, message, part) => add('error', code, path, message, part),
    warn: (code, path, message, part) => add('warning', code, path, message, part),
  };
}
