/**
 * The applier: runs a plan's operations, in order, against one interface and counts how each
 * write was sent. It decides nothing (the plan did); it only knows how each operation is spoken:
 * a UAPI `set` on wireguard-go's socket or `wg set` processes for the kernel module (the private
 * key through a 0600 temporary file, never on a command line), `ip` commands, and route batches
 * on the handle's persistent `ip` session or, without one, a one-shot `ip -batch -`.
 * The first failing operation throws; what ran before it stays (the caller reads back).
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked, type CommandRunner } from '@gingham/host';
import { renderWgSet } from './diff.js';
import type { Operation } from './plan.js';
import { ensureStateDir } from './state.js';
import { encodeUapiSet, uapiSet } from './uapi.js';
import { socketPath, type HostPaths } from './userspace.js';

/** Where and how the operations are written. */
export interface ApplyTarget {
  readonly name: string;
  readonly runner: CommandRunner;
  readonly mode: 'kernel' | 'userspace';
  /** For the kernel module's temporary key file. */
  readonly stateDir: string;
  readonly hostPaths: HostPaths;
  /**
   * Sends a route batch on a persistent session; resolves false when there is none (the applier
   * then runs a one-shot `ip -batch -`). Absent: always one-shot (a read-back apply).
   */
  readonly sessionBatch?: (lines: readonly string[]) => Promise<boolean>;
}

/** How the writes went: counts by channel, and time spent in the WireGuard step and the routes. */
export interface Writes {
  /** Mutating commands: UAPI sets, `wg set`, `ip` commands, route batches. */
  readonly commands: number;
  readonly uapiSets: number;
  readonly ipSessionBatches: number;
  /** Processes spawned (`wg set`, `ip`, one-shot `ip -batch`). */
  readonly processes: number;
  readonly wireguardMs: number;
  readonly routesMs: number;
}

/** Runs `operations` in order; throws on the first failure. */
export async function runOperations(operations: readonly Operation[], target: ApplyTarget): Promise<Writes> {
  let commands = 0;
  let uapiSets = 0;
  let ipSessionBatches = 0;
  let processes = 0;
  let wireguardMs = 0;
  let routesMs = 0;
  const spawn = async (argv: readonly string[], input?: string): Promise<void> => {
    commands++;
    processes++;
    await runChecked(target.runner, argv, input === undefined ? undefined : { input });
  };

  for (const op of operations) {
    switch (op.kind) {
      case 'wireguard': {
        const settings = {
          ...(op.listenPort !== undefined ? { listenPort: op.listenPort } : {}),
          ...(op.fwmark !== undefined ? { fwmark: op.fwmark } : {}),
        };
        if (target.mode === 'userspace') {
          // One request on wireguard-go's (root-only) socket, whatever the number of peers.
          const request = encodeUapiSet(op.diff, { ...(op.privateKey !== undefined ? { privateKey: op.privateKey } : {}), ...settings });
          if (request === undefined) break;
          commands++;
          uapiSets++;
          const t = performance.now();
          await uapiSet(socketPath(target.name, target.hostPaths), request);
          wireguardMs += performance.now() - t;
          break;
        }
        // `wg` fopen()s the key path, so it must be a real file (a pipe's /dev/stdin is a socket here).
        const keyFile = op.privateKey !== undefined ? join(target.stateDir, `.${target.name}.${randomBytes(6).toString('hex')}.key`) : undefined;
        try {
          if (keyFile !== undefined) {
            await ensureStateDir(target.stateDir);
            await writeFile(keyFile, `${op.privateKey}\n`, { mode: 0o600, flag: 'wx' });
          }
          const t = performance.now();
          for (const c of renderWgSet(target.name, op.diff, { ...(keyFile !== undefined ? { privateKeyFile: keyFile } : {}), ...settings })) await spawn(c.argv);
          wireguardMs += performance.now() - t;
        } finally {
          if (keyFile !== undefined) await rm(keyFile, { force: true });
        }
        break;
      }
      case 'ip':
        await spawn(op.argv);
        break;
      case 'routes': {
        const t = performance.now();
        if (target.sessionBatch && (await target.sessionBatch(op.lines))) {
          commands++;
          ipSessionBatches++;
        } else {
          await spawn(['ip', '-batch', '-'], `${op.lines.join('\n')}\n`);
        }
        routesMs += performance.now() - t;
        break;
      }
    }
  }
  return { commands, uapiSets, ipSessionBatches, processes, wireguardMs, routesMs };
}
