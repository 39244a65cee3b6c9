/**
 * Typed errors of the host-command layer. Every message starts with `gingham: `; callers branch
 * on `code` (stable) or the class, never on text. The package depends on nothing of ours, so the
 * base is its own (it follows the same shape as `GinghamError`: `code`, `cause`).
 */

export type HostErrorCode =
  /** A command exited non-zero: `argv`, `exitCode`, `stderr` say how. */
  | 'COMMAND_FAILED'
  /** A program is not installed: `tool` and the Debian `debianPackage` that provides it. */
  | 'TOOL_MISSING'
  /** This process lacks a privilege: `capability` names it. */
  | 'NOT_PERMITTED'
  /** The kernel or machine lacks a feature: `feature` names it. */
  | 'NOT_SUPPORTED'
  /** Another process holds the instance lock: `holder` says who. */
  | 'INSTANCE_LOCKED'
  /** An argument is malformed (empty argv, bad namespace or lock name). */
  | 'HOST_INVALID_ARGUMENT';

export class HostError extends Error {
  readonly code: HostErrorCode;

  constructor(code: HostErrorCode, message: string, options?: { cause?: unknown }) {
    super(message.startsWith('gingham: ') ? message : `gingham: ${message}`, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A command exited non-zero; carries the argv, its output and the input it was given. */
export class CommandFailedError extends HostError {
  declare readonly code: 'COMMAND_FAILED';
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** What was written to its standard input (the failing restore input, say). */
  readonly input?: string;

  constructor(argv: readonly string[], result: { code: number; stdout: string; stderr: string }, input?: string, options?: { cause?: unknown }) {
    const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`;
    super('COMMAND_FAILED', `command failed (exit ${result.code}): ${argv.join(' ')}: ${detail}`, options);
    this.argv = argv;
    this.exitCode = result.code;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
    if (input !== undefined) this.input = input;
  }
}

/** A program is not installed; the message names the Debian package to install. */
export class ToolMissingError extends HostError {
  declare readonly code: 'TOOL_MISSING';
  readonly tool: string;
  readonly debianPackage: string | undefined;

  constructor(tool: string, debianPackage: string | undefined, where?: string) {
    const fix = debianPackage ? `; install it with: apt-get install --no-install-recommends ${debianPackage}` : '';
    super('TOOL_MISSING', `${tool} is not installed${where ? ` (${where})` : ''}${fix}`);
    this.tool = tool;
    this.debianPackage = debianPackage;
  }
}

/** This process lacks a privilege (root, CAP_NET_ADMIN, CAP_BPF, …). */
export class NotPermittedError extends HostError {
  declare readonly code: 'NOT_PERMITTED';
  readonly capability: string;

  constructor(capability: string, what: string, options?: { cause?: unknown }) {
    super('NOT_PERMITTED', `${what} needs ${capability}: run as root (or grant ${capability})`, options);
    this.capability = capability;
  }
}

/** A kernel feature or machine facility is missing. Tests may skip on it locally; CI must not. */
export class NotSupportedError extends HostError {
  declare readonly code: 'NOT_SUPPORTED';
  readonly feature: string;

  constructor(feature: string, message?: string, options?: { cause?: unknown }) {
    super('NOT_SUPPORTED', message ?? `not supported by this kernel or machine: ${feature}`, options);
    this.feature = feature;
  }
}
