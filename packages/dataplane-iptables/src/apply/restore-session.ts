/**
 * A persistent `iptables-restore --noflush -v` child (one per address family), fed one table's
 * transaction at a time on stdin, so that a small commit — a label change's endpoint chain —
 * costs a pipe write and the kernel's commit instead of a process start from a large agent
 * (docs/benchmarks.md, "Where the restore child's time goes"). Built on the host layer's
 * persistent-session helper (serialised batches, timeout, death detection); this file is only
 * iptables-restore's protocol.
 *
 * End of transaction: after `COMMIT` the session writes a comment line `# ghsync-<nonce>-<n>`.
 * iptables-restore (nft and legacy, 1.8.x) reads its input line by line, commits each table at
 * its `COMMIT` line (the kernel answers the whole batch before the call returns) and, in verbose
 * mode, echoes comment lines on stdout as it reaches them, flushed. On any failure it prints the
 * error on stderr and exits without reading further. So the sentinel on stdout means exactly
 * that every line before it, the commit included, succeeded; an exit means the transaction in
 * flight failed as a whole (each `COMMIT` is one atomic kernel transaction) or was never read.
 *
 * It must never be handed a transaction that is unsafe to run twice: on any trouble (exit,
 * timeout) `run` resolves `undefined`, the session is closed, and the caller re-runs the same
 * text as a one-shot child, which reports the real error if the transaction itself is bad. A
 * transaction of `:CHAIN` declarations (which flush an existing chain), `-F`, `-A` and `-X` lines
 * converges to the same tables whether or not a first attempt committed; hook edits (`-I`, `-D`)
 * do not, so `restoreSessionSafe` keeps them one-shot.
 */
import { openSession, type CommandRunner, type PersistentSession } from '@gingham/host';
import { IptablesError } from '../errors.js';

/**
 * `run(lines)` takes one table's transaction (`*table` … `COMMIT`) and resolves true once it is
 * committed, `undefined` when the session failed (it is then closed); it throws for lines that
 * `restoreSessionSafe` refuses.
 */
export type RestoreSession = PersistentSession<true>;

/** The argv of the session child for a restore tool (`iptables-nft-restore`, `ip6tables-restore`, …). */
export const restoreSessionArgv = (tool: string): readonly string[] => [tool, '--noflush', '-v'];

/** Whether a transaction's lines may go through the session: re-running them after an unknown outcome converges to the same tables. */
export function restoreSessionSafe(lines: readonly string[]): boolean {
  if (lines[0]?.startsWith('*') !== true || lines[lines.length - 1] !== 'COMMIT') return false;
  for (let i = 1; i < lines.length - 1; i++) {
    const l = lines[i]!;
    if (!(l.startsWith('-A ') || l.startsWith('-F ') || l.startsWith('-X ') || l.startsWith(':'))) return false;
  }
  return true;
}

/** Starts the session; `undefined` when the child cannot be started (the caller stays one-shot). */
export async function openRestoreSession(runner: CommandRunner, tool: string, timeoutMs = 10_000): Promise<RestoreSession | undefined> {
  let seq = 0;
  let out = '';
  let sentinel: string | undefined;
  const nonce = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  return openSession<true>(
    runner,
    restoreSessionArgv(tool),
    {
      frame(lines) {
        if (!restoreSessionSafe(lines)) throw new IptablesError('IPTABLES_INVALID_ARGUMENT', 'a restore session takes one table of :CHAIN, -F, -A and -X lines (hook edits run one-shot)');
        sentinel = `# ghsync-${nonce}-${++seq}`;
        out = '';
        return `${lines.join('\n')}\n${sentinel}\n`;
      },
      receive(stream, text) {
        if (stream !== 'stdout' || sentinel === undefined) return undefined; // errors end in an exit
        out += text;
        const at = out.indexOf(`${sentinel}\n`);
        if (at < 0) return undefined;
        out = out.slice(at + sentinel.length + 1);
        sentinel = undefined;
        return { result: true };
      },
    },
    // No quit command: end of input makes iptables-restore exit (close() then stops it by PID).
    { timeoutMs, quitGraceMs: 0 },
  );
}
