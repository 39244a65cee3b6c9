/**
 * Interface discovery of one network namespace: its links and their addresses (`ip -j addr
 * show`, interfaces.ts), their ifindexes, the interfaces a state needs the program on, and the
 * host facts the compiler reads for forwarding (host-facts.ts), kept so that a caller can tell
 * when they changed. Reads only; never changes anything. A namespace that is gone has no
 * interfaces (every ifindex 0).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { DataplaneState } from '@gingham/core';
import { getBpfBinding, netnsPath, withNetns } from '@gingham/ebpf-loader';
import type { HostFacts } from '../compile/index.js';
import { hostFacts } from './host-facts.js';
import { listLinks, wantedInterfaces, type NetnsLink } from './interfaces.js';

/** Above this many names, `ifindexes` reads the interface list first. */
const LIST_ABOVE = 8;

/** Names of the interfaces of the calling thread's network namespace (undefined: unreadable). */
function presentInterfaces(): Set<string> | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/thread-self/net/dev', 'latin1');
  } catch {
    return undefined;
  }
  const out = new Set<string>();
  // Two header lines, then "  <name>: <counters>" per interface (names never hold ':').
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon > 0) out.add(line.slice(0, colon).trim());
  }
  return out;
}

export class InterfaceDiscovery {
  private current: HostFacts = {};

  /** `netns`: a name under /run/netns or a path; undefined for this process's namespace. */
  constructor(readonly netns: string | undefined) {}

  /** Whether the namespace exists (always, for this process's own). */
  exists(): boolean {
    return !this.netns || existsSync(netnsPath(this.netns));
  }

  links(): NetnsLink[] {
    return listLinks(this.netns);
  }

  /**
   * The ifindex of each name (0: no such interface, or the namespace is gone). For more than a
   * few names, the namespace's interface list (`/proc/thread-self/net/dev`, read once while in
   * it) skips the lookups of names that are not there: an agent's endpoints whose interfaces do
   * not exist yet are re-checked on every apply.
   */
  readonly ifindexes = (names: readonly string[]): Map<string, number> => {
    if (!this.exists()) return new Map(names.map((n) => [n, 0]));
    const b = getBpfBinding();
    return withNetns(this.netns, () => {
      const present = names.length > LIST_ABOVE ? presentInterfaces() : undefined;
      return new Map(names.map((n) => [n, present && !present.has(n) ? 0 : b.ifNameToIndex(n)]));
    });
  };

  /** Interface names `state` needs the program on, sorted (interfaces.ts `wantedInterfaces`). */
  wanted(state: DataplaneState): string[] {
    return wantedInterfaces(state, () => this.links());
  }

  /** The host facts last read by `refreshFacts`. */
  get facts(): HostFacts {
    return this.current;
  }

  /** Re-reads the interfaces named host endpoints of `state` bind; true when the facts changed. */
  refreshFacts(state: DataplaneState): boolean {
    const next = hostFacts(state, () => this.links(), this.ifindexes);
    const changed = JSON.stringify(next) !== JSON.stringify(this.current);
    this.current = next;
    return changed;
  }
}
