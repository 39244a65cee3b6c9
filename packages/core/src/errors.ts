/**
 * The error base shared by every Gingham package. Core throws only for programmer errors and
 * for `parseSelector` (whose contract is to throw); expected outcomes such as validation
 * problems are returned as data (`Issue[]`). Every message starts with `gingham: `.
 */
export class GinghamError extends Error {
  /** Stable, machine-readable code, e.g. `SELECTOR_PARSE`, `IPTABLES_RESTORE_FAILED`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message.startsWith('gingham: ') ? message : `gingham: ${message}`, options);
    this.name = new.target.name;
    this.code = code;
  }
}
