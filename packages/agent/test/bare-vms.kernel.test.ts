/**
 * The bare-VM fleet example with the iptables dataplane (flow logs through the iptables flow
 * source's netlink relay); see support/bare-vms.ts. bare-vms-ebpf.kernel.test.ts runs it with eBPF.
 */
import { describeBareVms } from './support/bare-vms.js';

describeBareVms('iptables');
