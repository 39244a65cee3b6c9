/**
 * The shared conformance suite against the eBPF dataplane: real TCP and UDP between pods in
 * network namespaces, every verdict compared with `evaluate()`. Every case builds a fresh
 * dataplane object with the same instance name, so each case after the first takes over the
 * previous one's pins with a generation swap, as a restarted agent does. Pins live in a private
 * bpffs mounted for this file. With CI=true missing capabilities fail instead of skipping.
 * GINGHAM_DIFF_RUNS raises the number of differential property runs (default 15).
 */
import { testDataplane } from '@gingham/dataplane-iptables/conformance';
import { afterAll, beforeAll } from 'vitest';
import { createEbpfDataplane } from '../src/index.js';
import { canRun, uniqueName } from './kernel-env.js';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';

let bpffs: ScratchBpffs | undefined;
const name = uniqueName('conf');

beforeAll(() => {
  if (canRun) bpffs = mountScratchBpffs('gh-ebpf-bpffs-');
});
afterAll(() => {
  bpffs?.release();
});

testDataplane('ebpf', ({ nodeNamespace }) => createEbpfDataplane({ netns: nodeNamespace, bpffs: bpffs!.path, name }), {
  mustRun: process.env.CI === 'true',
  differentialRuns: Number(process.env.GINGHAM_DIFF_RUNS ?? 15),
});
