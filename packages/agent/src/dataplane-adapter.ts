/**
 * The one place the agent touches a dataplane's own API. Each dataplane (iptables, eBPF, none)
 * is seen through `AgentDataplane`, so a rename in a dataplane package (`lastStats` → `stats`,
 * a sync `close` becoming async) changes this file only. The eBPF dataplane is an optional
 * dependency, imported only when chosen.
 */
import { GinghamError, RecordingDataplane, type Dataplane, type DataplaneMessage, type FlowSource } from '@gingham/core';
import type { AgentConfig } from './config.js';

/** An interface rtnetlink reported changed: its name and, when the event carried it, its ifindex. */
export interface InterfaceChange {
  readonly name: string;
  readonly index?: number;
}

export interface AgentDataplane {
  readonly kind: string;
  /** One batch, as the Engine sends it; throws when it is not in force. */
  apply(messages: readonly DataplaneMessage[]): Promise<void>;
  /**
   * Re-checks host interfaces and their addresses (after rtnetlink reported a change). `full`:
   * every hook, also what looks unchanged (the periodic safety net); else what changed:
   * `changed` lists every interface the kernel reported since the last re-check (a dataplane
   * may look at those alone; absent: any interface may have changed).
   */
  syncInterfaces(options?: { readonly full?: boolean; readonly changed?: readonly InterfaceChange[] }): Promise<void>;
  /** Removes everything this dataplane made; says what, in one line. */
  clean(): Promise<string>;
  /** Releases the dataplane (its lock, sessions, descriptors); enforcement stays in the kernel. */
  close(): Promise<void>;
  /** A few figures for `agent status` (what the last apply changed). */
  stats(): Record<string, unknown>;
  /** Whether a refused batch means the dataplane's view and the agent's have diverged (a bug: restart). */
  isContractViolation(error: unknown): boolean;
  /**
   * The dataplane's flow source (only when it was created with flow logs on): its verdict events
   * and connection counters, for the flow collector. Resolves once it reads from the kernel.
   */
  createFlowSource?(): Promise<FlowSource>;
}

const CONTRACT_CODES = new Set(['IPTABLES_CONTRACT_VIOLATION', 'EBPF_CONTRACT_VIOLATION']);

/** Wraps any core `Dataplane` (tests, embedding). */
export function wrapDataplane(kind: string, dataplane: Dataplane & { clean?(): Promise<unknown>; close?(): unknown; syncInterfaces?(): Promise<void> }): AgentDataplane {
  return {
    kind,
    apply: async (messages) => {
      await dataplane.apply(messages);
    },
    syncInterfaces: async () => {
      await dataplane.syncInterfaces?.();
    },
    clean: async () => {
      await dataplane.clean?.();
      return 'cleaned';
    },
    close: async () => {
      await dataplane.close?.();
    },
    stats: () => ({}),
    isContractViolation: (e) => e instanceof GinghamError && CONTRACT_CODES.has(e.code),
  };
}

async function importEbpf(): Promise<typeof import('@gingham/dataplane-ebpf')> {
  try {
    return await import('@gingham/dataplane-ebpf');
  } catch (cause) {
    const e = cause as { code?: unknown };
    if (e.code !== 'ERR_MODULE_NOT_FOUND') throw cause;
    throw new GinghamError('EBPF_DATAPLANE_MISSING', 'the eBPF dataplane is not installed (@gingham/dataplane-ebpf is optional): npm install @gingham/dataplane-ebpf, or use --dataplane iptables', { cause });
  }
}

/** Creates the configured dataplane. Nothing touches the kernel before its first apply (or clean). */
export async function createAgentDataplane(config: AgentConfig): Promise<AgentDataplane> {
  const purpose = `gingham agent --node ${config.node}`;
  if (config.dataplane === 'none') {
    const recording = new RecordingDataplane({ keepBatches: false });
    return {
      ...wrapDataplane('none', recording),
      clean: async () => 'the none dataplane enforces nothing; nothing to remove',
      stats: () => ({ policies: recording.state.policies.size, workloadEndpoints: recording.state.workloadEndpoints.size, hostEndpoints: recording.state.hostEndpoints.size }),
    };
  }
  if (config.dataplane === 'iptables') {
    const { createIptablesDataplane, formatCleanReport } = await import('@gingham/dataplane-iptables');
    const dp = createIptablesDataplane({
      backend: config.iptablesBackend,
      groupDispatch: config.iptablesGroupDispatch,
      families: config.ipv6 ? [4, 6] : [4],
      workloadInterfacePrefixes: config.interfacePrefixes,
      lock: { dir: config.lockDir, purpose },
      ...(config.flowLogsEnabled ? { flowLogs: true } : {}),
    });
    return {
      kind: 'iptables',
      apply: (messages) => dp.apply(messages),
      syncInterfaces: () => dp.syncInterfaces(),
      clean: async () => formatCleanReport(await dp.clean()),
      close: () => dp.close(),
      stats: () => ({ ...dp.stats(), timings: dp.timings() }),
      isContractViolation: (e) => e instanceof GinghamError && CONTRACT_CODES.has(e.code),
      ...(config.flowLogsEnabled
        ? {
            async createFlowSource() {
              const { createIptablesFlowSource } = await import('@gingham/dataplane-iptables');
              const source = createIptablesFlowSource({ dataplane: dp });
              try {
                await source.ready;
              } catch (e) {
                await source.close();
                throw e;
              }
              return source;
            },
          }
        : {}),
    };
  }
  const { createEbpfDataplane, createEbpfFlowSource } = await importEbpf();
  const dp = createEbpfDataplane({
    ...(config.bpffs !== undefined ? { bpffs: config.bpffs } : {}),
    name: config.ebpfInstance,
    mode: config.ebpfMode,
    lockDir: config.lockDir,
    flowLogs: config.flowLogsEnabled,
  });
  return {
    kind: 'ebpf',
    apply: (messages) => dp.apply(messages),
    syncInterfaces: (o) => dp.syncInterfaces(o),
    clean: async () => {
      const r = await dp.clean();
      if (r.nothingFound) return `nothing of Gingham's was found under ${r.pinPath}`;
      return `removed ${r.detached.length} hook(s), ${r.qdiscsDeleted.length} qdisc(s) and ${r.pinsRemoved} pin(s) under ${r.pinPath}`;
    },
    close: async () => {
      await (dp.close as () => unknown)();
    },
    stats: () => {
      const s = dp.stats();
      return { generation: s.generation, mapWrites: s.mapWrites, fullFill: s.fullFill, attached: s.attached.length, pendingInterfaces: s.pendingInterfaces };
    },
    isContractViolation: (e) => e instanceof GinghamError && CONTRACT_CODES.has(e.code),
    // The ring buffer and the flow counters are pinned at the first apply; the source opens them then.
    ...(config.flowLogsEnabled ? { createFlowSource: async () => createEbpfFlowSource({ dataplane: dp }) } : {}),
  };
}
