/**
 * The bare-VM fleet example with the eBPF dataplane (pins in a bpffs the script mounts and
 * unmounts); see support/bare-vms.ts. bare-vms.kernel.test.ts runs it with iptables.
 */
import { describeBareVms } from './support/bare-vms.js';

describeBareVms('ebpf');
