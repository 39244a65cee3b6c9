/** The Kubernetes source's kernel scenario on the eBPF dataplane, pins in a scratch bpffs (see support/kernel-scenario.ts). */
import { randomBytes } from 'node:crypto';
import { createEbpfDataplane } from '@gingham/dataplane-ebpf';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';
import { canRun, testKubernetesScenario } from './support/kernel-scenario.js';

let bpffs: ScratchBpffs | undefined;
testKubernetesScenario('eBPF', (topo) => createEbpfDataplane({ netns: topo.node, bpffs: bpffs!.path, name: `k8s-${randomBytes(3).toString('hex')}` }), {
  before: () => {
    if (canRun) bpffs = mountScratchBpffs('gh-k8s-bpffs-');
  },
  after: () => bpffs?.release(),
});
