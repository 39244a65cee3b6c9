/**
 * @gingham/host: the host-command layer every adapter shares: one argv-only command runner
 * (here or inside a network namespace), long-lived interactive children and the persistent
 * batch sessions built on them, typed errors that say what to do (the Debian package of a
 * missing tool, the missing capability), and crash-safe instance locks.
 */
export {
  CommandFailedError,
  HostError,
  NotPermittedError,
  NotSupportedError,
  ToolMissingError,
  type HostErrorCode,
} from './errors.js';
export {
  createLocalRunner,
  createNetnsRunner,
  runChecked,
  type CommandResult,
  type CommandRunner,
  type InteractiveProcess,
  type ProcessExit,
  type RunOptions,
  type SpawnedProcess,
  type SpawnOptions,
} from './runner.js';
export { openSession, type PersistentSession, type SessionOptions, type SessionProtocol } from './session.js';
export { debianPackageOf } from './tools.js';
export {
  acquireInstanceLock,
  DEFAULT_LOCK_DIR,
  InstanceLockedError,
  lockName,
  type InstanceLock,
  type InstanceLockOptions,
  type LockHolder,
} from './lock.js';
