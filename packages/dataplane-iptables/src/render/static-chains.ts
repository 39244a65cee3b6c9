/**
 * The top-level chains (`<p>FORWARD`, `<p>INPUT`, `<p>OUTPUT`, `<p>wl-to-host`) that route
 * packets to the workload and host endpoint dispatch chains, and the hook rules, one per built-in
 * chain we use (the only lines of ours in built-in chains). Their shape depends only on the
 * options and on whether host endpoints exist. Pure.
 */
import { ChainBuilder, hex, type RenderContext } from './context.js';
import { checkRule, type GenerationStamp } from './generation.js';
import type { Table } from './options.js';
import type { HookRule } from './rendered.js';

export function renderStaticChains(rc: RenderContext, haveHeps: boolean, stamp: GenerationStamp | undefined): HookRule[] {
  const { o, prefix: p } = rc;
  const clear = ['-j', 'MARK', '--set-xmark', `0x0/${hex(rc.marks)}`];
  const wlIfaces = o.workloadInterfacePrefixes.map((x) => `${x}+`);
  const forward = new ChainBuilder('filter', `${p}FORWARD`);
  const input = new ChainBuilder('filter', `${p}INPUT`);
  const output = new ChainBuilder('filter', `${p}OUTPUT`);
  // Before any decision of filter's own: a new packet raw stamped for another generation drops.
  if (stamp) for (const c of [forward, input, output]) c.add(...checkRule(stamp));
  if (haveHeps) {
    // Keep the accept mark of a packet raw (untracked) or mangle (pre-DNAT) policy accepted: it
    // skips the arrival endpoint's forward policy, not the workload or departure checks.
    forward.add('-j', 'MARK', '--set-xmark', `0x0/${hex(o.passMark)}`);
    forward.add(...rc.ifNotMark(o.acceptMark), '-j', `${p}from-hep-fwd`);
  } else forward.add(...clear);
  for (const w of wlIfaces) forward.add('-i', w, '-j', `${p}from-wl-dispatch`);
  for (const w of wlIfaces) forward.add('-o', w, '-j', `${p}to-wl-dispatch`);
  if (haveHeps) forward.add('-j', `${p}to-hep-fwd`);
  forward.add(...rc.ifMark(o.acceptMark), '-j', 'ACCEPT');
  const wlToHost = new ChainBuilder('filter', `${p}wl-to-host`);
  for (const w of wlIfaces) input.add('-i', w, '-g', `${p}wl-to-host`);
  if (haveHeps) input.add(...rc.ifMark(o.acceptMark), '-j', 'ACCEPT');
  input.add(...clear);
  wlToHost.add('-j', `${p}from-wl-dispatch`);
  wlToHost.add('-j', o.endpointToHostAction);
  if (haveHeps) input.add('-j', `${p}from-host-ep`);
  input.add(...rc.ifMark(o.acceptMark), '-j', 'ACCEPT');
  if (haveHeps) output.add(...rc.ifMark(o.acceptMark), '-j', 'ACCEPT');
  // Host → own workload: never policed (Felix: "we don't police host -> endpoint"), and the
  // `*` endpoint's egress policy is skipped towards local workloads.
  for (const w of wlIfaces) output.add('-o', w, '-j', 'RETURN');
  output.add(...clear);
  if (haveHeps) output.add('-j', `${p}to-host-ep`);
  output.add(...rc.ifMark(o.acceptMark), '-j', 'ACCEPT');
  rc.push(forward, input, wlToHost, output);

  const hookList: [Table, string][] = [
    ['filter', 'FORWARD'],
    ['filter', 'INPUT'],
    ['filter', 'OUTPUT'],
  ];
  if (haveHeps) hookList.push(['mangle', 'PREROUTING'], ['raw', 'OUTPUT'], ['raw', 'PREROUTING']);
  return hookList.map(([table, chain]) => ({
    table,
    chain,
    target: `${p}${chain}`,
    args: ['-m', 'comment', '--comment', `${o.commentTag}hook`, '-j', `${p}${chain}`],
  }));
}
