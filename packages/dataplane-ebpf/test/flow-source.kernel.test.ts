/**
 * The eBPF flow source against the real datapath program (BPF_PROG_TEST_RUN, maps pinned in a
 * private bpffs): allowed new flows emit one event per evaluated direction with flow logs on and
 * none without; the ring buffer's overflow under pressure is counted by the program and reported
 * by the source as lost events, exactly, never silently dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMessage, emptyDataplaneState, type DataplaneState, type FlowSink, type FlowVerdictEvent } from '@gingham/core';
import { createCollection, loadCollectionSpec, testRun, type Collection } from '@gingham/ebpf-loader';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';
import { compile, policyNames } from '../src/compile/index.js';
import { DATAPATH_PROGRAM, encodeMetaValue, encodeSkbContext, META_FLOW_LOGS, META_NO_CT_INSERT, readDatapathObject, writeTables } from '../src/datapath.js';
import { createEbpfFlowSource } from '../src/index.js';
import { buildPacket, TCP_SYN } from '../src/packet.js';
import { MAP_NAMES } from '../src/wire.js';
import { canRun } from './support/kernel-env.js';

const A = '10.0.0.1';
const B = '10.1.0.1';

function state(): DataplaneState {
  const s = emptyDataplaneState();
  const allow = [{ action: 'Allow' as const, source: {}, destination: {} }];
  for (const m of [
    { kind: 'profile-upsert', profile: { id: 'kns.t', ingress: allow, egress: allow } },
    { kind: 'policy-upsert', policy: { id: 'knp/t/a-in', tier: 'default', staged: false, egress: [], ingress: [{ action: 'Allow', protocol: 6, source: {}, destination: {} }] } },
    { kind: 'workload-endpoint-upsert', endpoint: { id: 't/a', name: 'a', node: 'n1', interfaceName: 'cali1', addresses: [`${A}/32`], ingressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['knp/t/a-in'] }], egressTiers: [], profileIds: ['kns.t'], stagedPolicyIds: [] } },
    { kind: 'workload-endpoint-upsert', endpoint: { id: 't/b', name: 'b', node: 'n1', interfaceName: 'cali2', addresses: [`${B}/32`], ingressTiers: [], egressTiers: [], profileIds: ['kns.t'], stagedPolicyIds: [] } },
  ] as const) applyMessage(s, m as never);
  return s;
}

describe.skipIf(!canRun)('eBPF flow source', () => {
  let bpffs: ScratchBpffs;
  let c: Collection;
  let names: Map<number, string>;
  const ctxIn = encodeSkbContext({ ingressIfindex: 1, ifindex: 1 });
  const send = (n: number, from = 20_000): void => {
    const program = c.program(DATAPATH_PROGRAM);
    for (let i = 0; i < n; i++) {
      const data = buildPacket({ src: B, dst: A, protocol: 6, srcPort: from + i, dstPort: 80 }, { tcpFlags: TCP_SYN });
      expect(testRun(program, { data, ctxIn }).retval).toBe(0);
    }
  };
  const setFlags = (flags: number): void => c.map('meta').update(new Uint8Array(4), encodeMetaValue(1n, flags));
  const drain = (source: ReturnType<typeof createEbpfFlowSource>) => {
    const events: FlowVerdictEvent[] = [];
    let lost = 0;
    const sink: FlowSink = { verdict: (e) => void events.push({ ...e }), connection: () => undefined, lost: (n) => void (lost += n) };
    source.poll(sink);
    return { events, lost };
  };

  beforeAll(() => {
    bpffs = mountScratchBpffs('gh-ebpf-fsrc-');
    c = createCollection(loadCollectionSpec(readDatapathObject()), { pinPath: bpffs.path });
    const { tables, writes } = compile(state());
    writeTables(Object.fromEntries(MAP_NAMES.map((n) => [n, c.map(n)])) as never, writes);
    names = policyNames(tables.memory);
  });
  afterAll(() => {
    c?.close();
    bpffs?.release();
  });

  it('reports both decisions of an allowed new flow with flow logs on, and nothing without', () => {
    const source = createEbpfFlowSource({ dataplane: { pinPath: bpffs.path, flowLogs: true, policyNames: () => names } });
    try {
      setFlags(META_NO_CT_INSERT);
      send(3);
      expect(drain(source).events).toEqual([]);
      setFlags(META_FLOW_LOGS | META_NO_CT_INSERT);
      send(1, 30_000);
      const { events, lost } = drain(source);
      expect(lost).toBe(0);
      expect(events.map((e) => [e.direction, e.action, e.decision, e.src, e.dst, e.srcPort, e.dstPort, e.protocol])).toEqual([
        ['egress', 'allow', { kind: 'profile', profile: 'kns.t', ruleIndex: 0 }, B, A, 30_000, 80, 6],
        ['ingress', 'allow', { kind: 'rule', policyId: 'knp/t/a-in', ruleIndex: 0 }, B, A, 30_000, 80, 6],
      ]);
      expect(events[0]!.bytes).toBeGreaterThanOrEqual(40);
    } finally {
      source.close();
    }
  });

  it('counts the events a full ring buffer could not take, and reports them as lost', () => {
    const source = createEbpfFlowSource({ dataplane: { pinPath: bpffs.path, flowLogs: true, policyNames: () => names } });
    try {
      setFlags(META_FLOW_LOGS | META_NO_CT_INSERT);
      drain(source); // baseline of the lost counter
      // 2 events of 72 ring bytes per packet; the 256 KiB ring takes ~3,640: 3,000 packets overflow it.
      send(3000, 40_000);
      const { events, lost } = drain(source);
      expect(lost).toBeGreaterThan(0);
      expect(events.length + lost).toBe(6000);
      expect(source.stats().lost).toBe(lost);
      // Drained, it takes events again.
      send(10, 50_000);
      const after = drain(source);
      expect(after).toEqual({ events: expect.any(Array), lost: 0 });
      expect(after.events).toHaveLength(20);
    } finally {
      source.close();
    }
  });
});
