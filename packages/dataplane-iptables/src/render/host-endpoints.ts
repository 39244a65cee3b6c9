/**
 * Host endpoints: which interfaces each governs (core's binding rule), their failsafe chains,
 * their normal, forward (applyOnForward), pre-DNAT (mangle) and untracked (raw) endpoint chains,
 * the `<p>from-host-ep`/`<p>to-host-ep` dispatch chains of each table, and raw's and mangle's
 * top-level chains with the generation stamp (generation.ts). The all-interfaces endpoint is
 * rendered as the catch-all after the named ones, so it also covers interfaces that appear later.
 * Renders nothing without host endpoints. Pure.
 */
import { bindHostEndpoints, type FailsafeEntry, type HostEndpointState } from '@gingham/core';
import { ChainBuilder, type RenderContext } from './context.js';
import type { EndpointChains } from './endpoint-chains.js';
import { assertStampBits, checkRule, type GenerationStamp, stampRule } from './generation.js';
import { assertInterfaceName } from './names.js';
import type { Table } from './options.js';
import type { HostFacts } from './rendered.js';

export interface HostEndpointsRendered {
  /** Some host endpoint governs an interface (or all of them): raw, mangle and the stamp are in use. */
  readonly haveHeps: boolean;
  /** Rendered at generation 1; the planner moves it (generation.ts withGeneration). */
  readonly stamp?: GenerationStamp;
}

export function renderHostEndpoints(rc: RenderContext, host: HostFacts, endpointChain: EndpointChains): HostEndpointsRendered {
  const { o, family, prefix: p } = rc;
  // Core's binding rule: a name, else an expected IP on a current interface, the lowest id among
  // equals; never a workload interface.
  const isWorkloadInterface = (iface: string): boolean => o.workloadInterfacePrefixes.some((x) => iface.startsWith(x));
  const bindings = bindHostEndpoints(
    rc.state.hostEndpoints.values(),
    () => [...(host.interfaceAddresses ?? new Map<string, readonly string[]>())].map(([ifname, addresses]) => ({ ifname, addresses })),
    { isWorkloadInterface },
  );
  const named = bindings.interfaces;
  const star = bindings.allInterfaces;
  for (const iface of named.keys()) assertInterfaceName(iface);
  const haveHeps = named.size > 0 || star !== undefined;
  if (!haveHeps) return { haveHeps };
  assertStampBits(o.stampBits, o.acceptMark | o.passMark | o.stampBits.reduce((a, b) => a | b, 0));
  const stamp: GenerationStamp = { generation: 1, bits: o.stampBits, clearMask: rc.marks };

  /**
   * Failsafe chain: `entries` match the destination port (inbound: source net; outbound:
   * destination net). In raw, where conntrack does not yet help, `replies` (the other list)
   * also match on the source port, so replies to failsafe connections pass untracked policy.
   */
  const failsafe = (table: Table, n: string, entries: readonly FailsafeEntry[], dir: 'in' | 'out', replies: readonly FailsafeEntry[] = []): string => {
    const c = new ChainBuilder(table, n);
    if (table !== 'filter' && dir === 'in') {
      // Before routing (raw, mangle) a failsafe must not let forwarded packets or packets from
      // workloads skip untracked or pre-DNAT policy: it guards the host itself.
      for (const w of o.workloadInterfacePrefixes) c.add('-i', `${w}+`, '-j', 'RETURN');
      c.add('-m', 'addrtype', '!', '--dst-type', 'LOCAL', '-j', 'RETURN');
    }
    const emit = (f: FailsafeEntry, portOpt: '--dport' | '--sport', netFlag: '-s' | '-d'): void => {
      const t: string[] = ['-p', f.protocol === 'tcp' ? '6' : '17', '-m', f.protocol, portOpt, String(f.port)];
      if (f.net !== undefined) {
        if ((f.net.includes(':') ? 6 : 4) !== family) return;
        t.push(netFlag, f.net);
      }
      c.add(...t, '-j', 'ACCEPT');
    };
    for (const f of entries) emit(f, '--dport', dir === 'in' ? '-s' : '-d');
    for (const f of replies) emit(f, '--sport', dir === 'in' ? '-s' : '-d');
    rc.push(c);
    return n;
  };
  const fromHep = new ChainBuilder('filter', `${p}from-host-ep`);
  const toHep = new ChainBuilder('filter', `${p}to-host-ep`);
  const fromHepFwd = new ChainBuilder('filter', `${p}from-hep-fwd`);
  const toHepFwd = new ChainBuilder('filter', `${p}to-hep-fwd`);
  const mangleFromHep = new ChainBuilder('mangle', `${p}from-host-ep`);
  const rawFromHep = new ChainBuilder('raw', `${p}from-host-ep`);
  const rawToHep = new ChainBuilder('raw', `${p}to-host-ep`);
  const bind = (h: HostEndpointState, iface: string | undefined): void => {
    const suffix = (kind: string): string => (iface === undefined ? `${p}${kind}all` : rc.name(kind, iface));
    const fsIn = failsafe('filter', suffix('fsi'), h.failsafeInbound, 'in');
    const fsOut = failsafe('filter', suffix('fso'), h.failsafeOutbound, 'out');
    endpointChain(suffix('fh'), { tiers: h.ingressTiers, dir: 'ingress', profiles: h.profileIds, failsafe: fsIn });
    endpointChain(suffix('th'), { tiers: h.egressTiers, dir: 'egress', profiles: h.profileIds, failsafe: fsOut });
    endpointChain(suffix('fhfw'), { tiers: h.forwardIngressTiers, dir: 'ingress', forward: true });
    endpointChain(suffix('thfw'), { tiers: h.forwardEgressTiers, dir: 'egress', forward: true });
    const inMatch = iface === undefined ? [] : ['-i', iface];
    const outMatch = iface === undefined ? [] : ['-o', iface];
    fromHep.add(...inMatch, '-g', suffix('fh'));
    toHep.add(...outMatch, '-g', suffix('th'));
    fromHepFwd.add(...inMatch, '-g', suffix('fhfw'));
    toHepFwd.add(...outMatch, '-g', suffix('thfw'));
    // Pre-DNAT (mangle, ingress only) and untracked (raw; not for the all-interfaces endpoint,
    // as in Felix) chains.
    failsafe('mangle', suffix('fsi'), h.failsafeInbound, 'in');
    endpointChain(suffix('fh'), { tiers: h.preDnatIngressTiers, dir: 'ingress', failsafe: suffix('fsi'), table: 'mangle' });
    mangleFromHep.add(...inMatch, '-g', suffix('fh'));
    if (iface !== undefined) {
      failsafe('raw', suffix('fsi'), h.failsafeInbound, 'in', h.failsafeOutbound);
      failsafe('raw', suffix('fso'), h.failsafeOutbound, 'out', h.failsafeInbound);
      endpointChain(suffix('fh'), { tiers: h.untrackedIngressTiers, dir: 'ingress', failsafe: suffix('fsi'), table: 'raw' });
      endpointChain(suffix('th'), { tiers: h.untrackedEgressTiers, dir: 'egress', failsafe: suffix('fso'), table: 'raw' });
      rawFromHep.add(...inMatch, '-g', suffix('fh'));
      rawToHep.add(...outMatch, '-g', suffix('th'));
    }
  };
  for (const [iface, h] of [...named.entries()].sort()) bind(h, iface);
  if (star) bind(star, undefined);
  rc.push(fromHep, toHep, fromHepFwd, toHepFwd, mangleFromHep, rawFromHep, rawToHep);
  // raw: clear marks and stamp the generation, untracked policy; mangle: established packets
  // pass, other generations' packets drop, raw-accepted packets pass, then pre-DNAT policy. A
  // packet accepted there carries the accept mark into filter.
  const rawPre = new ChainBuilder('raw', `${p}PREROUTING`);
  rawPre.add(...stampRule(stamp));
  rawPre.add('-j', `${p}from-host-ep`);
  const rawOut = new ChainBuilder('raw', `${p}OUTPUT`);
  rawOut.add(...stampRule(stamp));
  rawOut.add('-j', `${p}to-host-ep`);
  const manglePre = new ChainBuilder('mangle', `${p}PREROUTING`);
  manglePre.add('-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');
  manglePre.add(...checkRule(stamp));
  manglePre.add(...rc.ifMark(o.acceptMark), '-j', 'ACCEPT');
  manglePre.add('-j', `${p}from-host-ep`);
  rc.push(rawPre, rawOut, manglePre);
  return { haveHeps, stamp };
}
