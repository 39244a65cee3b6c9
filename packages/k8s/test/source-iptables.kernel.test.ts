/** The Kubernetes source's kernel scenario on the iptables dataplane (see support/kernel-scenario.ts). */
import { createIptablesDataplane } from '@gingham/dataplane-iptables';
import { testKubernetesScenario } from './support/kernel-scenario.js';

testKubernetesScenario('iptables', (topo) => createIptablesDataplane({ runner: topo.nodeRunner }));
