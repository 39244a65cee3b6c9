/**
 * What a dataplane hands the conformance suite: a factory for its in-process `Dataplane`, how to
 * run its `gingham enforce` and what of its making may be left in a namespace, and which cases
 * apply to it. The suite owns everything else (namespaces, servers, probes, shims, files).
 */
import type { Dataplane } from '@gingham/core';
import type { CommandRunner } from '@gingham/host';
import type { Topology } from '../topology/topology.js';

export interface ConformanceEnv {
  /** Runs commands inside the node namespace. */
  readonly runner: CommandRunner;
  readonly nodeNamespace: string;
  /** The suite's namespaces: the node, its pods and the two outside namespaces. */
  readonly topology: Topology;
}

/** A dataplane under test: `close()`d before the next case builds another, `clean()`ed at the end. */
export type ConformanceDataplane = Dataplane & { clean?(): Promise<unknown>; close?(): void | Promise<void> };

export interface ConformanceCapabilities {
  /** Fail instead of skipping when the machine lacks root or tools (default: `CI=true`). */
  readonly mustRun?: boolean;
  /** Programs the dataplane runs besides the suite's own (`ip`, `socat`, `ss`, `conntrack`). */
  readonly tools?: readonly string[];
  /** Run the UDP probes (default true). */
  readonly udp?: boolean;
  /** Run the "conntrack keeps established flows" case (default true). */
  readonly conntrack?: boolean;
  /** Run the host endpoint cases (default true). */
  readonly hostEndpoints?: boolean;
  /** Run the forwarding cases: applyOnForward / pre-DNAT / untracked on forwarded traffic, the node and its own pods (default true). */
  readonly forwarding?: boolean;
  /** Runs of the differential property (random policies and flows vs `evaluate()`; default 15, 0 = off). */
  readonly differentialRuns?: number;
}

/** Which attach mode a run uses: one of `EnforceCommand.modes`, or `undefined` for the command's default. */
export type EnforceMode = string | undefined;

export interface EnforceCommand {
  /**
   * argv (program first, an absolute path) of one `gingham enforce` of node `node` over the
   * manifest directory `dir`; the suite runs it inside the node namespace with `ip netns exec`.
   */
  enforce(o: { readonly dir: string; readonly node: string; readonly mode: EnforceMode }): string[];
  /** argv of `gingham enforce --clean` for this dataplane (and mode). */
  clean(o: { readonly mode: EnforceMode }): string[];
  /** Programs a run may start: each start is a kill point (PATH shims in front of them). */
  readonly childTools: readonly string[];
  /**
   * Child starts (`tool args…`) that change nothing (reads, the lock): a kill there while the
   * child runs on is the same case as the child exiting, so it is tried once.
   */
  readonly readOnly?: (start: string) => boolean;
  /** Attach modes the kill -9 campaigns run in, one campaign each (default: one, in the default mode). */
  readonly modes?: readonly string[];
  /** Kills at random moments of a run, per campaign, besides one at every child start (default 4). */
  readonly randomKills?: number;
  /** Checks of the command's own report (with `expect`); each is optional. */
  readonly report?: EnforceReportChecks;
}

export interface EnforceReportChecks {
  /** stdout of a run that enforced a state from nothing. */
  enforced?(stdout: string, env: ConformanceEnv, mode: EnforceMode): void;
  /** stdout of a run over the state the previous run left (nothing new to enforce). */
  converged?(stdout: string, env: ConformanceEnv, mode: EnforceMode): void;
  /** stdout of `--clean` that removed enforcement. */
  cleaned?(stdout: string, env: ConformanceEnv, mode: EnforceMode): void;
}

/** Parts of the suite a test file registers (default all): a dataplane may spread them over files. */
export type SuitePart = 'cases' | 'quickstart' | 'kill9';

export interface TestDataplaneOptions {
  /** Builds the dataplane for the node namespace (one per case; see `ConformanceDataplane`). */
  factory(env: ConformanceEnv): ConformanceDataplane | Promise<ConformanceDataplane>;
  /**
   * Everything of this dataplane's making left in the suite's namespaces (and wherever else it
   * keeps state, e.g. pins): hooks, qdiscs, pins, chains, sets — empty once cleaned. Checked after
   * every `clean()` and `--clean`.
   */
  residue(env: ConformanceEnv): string[];
  /** The dataplane's `gingham enforce`: the quick-start matrix and the kill -9 campaigns run it. */
  readonly command: EnforceCommand;
  readonly capabilities?: ConformanceCapabilities;
  /** The parts this file registers (default all three). */
  readonly parts?: readonly SuitePart[];
}
