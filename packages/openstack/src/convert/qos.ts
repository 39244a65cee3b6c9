/**
 * A port's QoS policy → the WorkloadEndpoint's `qosControls`, as networking-calico's
 * `add_port_qos` computes it: bandwidth and packet-rate limit rules of the port's policy (or its
 * network's), plus the driver's `[calico]` settings that the Neutron API cannot express. Values
 * are clamped to the ranges the WorkloadEndpoint API accepts. Pure.
 *
 *   qosControls field          source
 *   ─────────────────────────  ───────────────────────────────────────────────────────────
 *   <dir>Bandwidth             bandwidth_limit rule max_kbps × 1000 (bits/s)
 *   <dir>Peakrate              bandwidth_limit rule max_burst_kbps × 1000
 *   <dir>PacketRate            packet_rate_limit rule max_kpps × 1000
 *   <dir>Burst                 <dir>_burst_bits setting, when <dir>Bandwidth is set
 *   <dir>Minburst              <dir>_minburst_bytes setting, when <dir>Peakrate is set
 *   <dir>PacketBurst           <dir>_burst_packets setting, when <dir>PacketRate is set
 *   <dir>MaxConnections        max_<dir>_connections_per_port setting
 *   (<dir> is the rule's direction, egress when the rule has none; max_burst_kpps is not mapped)
 */
import type { NeutronQosPolicy } from '../neutron-types.js';

/** networking-calico's `[calico]` QoS settings (0 turns a setting off, as in neutron.conf). */
export interface QosSettings {
  readonly maxIngressConnectionsPerPort: number;
  readonly maxEgressConnectionsPerPort: number;
  readonly ingressBurstBits: number;
  readonly egressBurstBits: number;
  readonly ingressMinburstBytes: number;
  readonly egressMinburstBytes: number;
  readonly ingressBurstPackets: number;
  readonly egressBurstPackets: number;
}

/** `DEFAULT_BW_BURST`: 4 Gbit, the driver's default burst at peak rate. */
export const DEFAULT_BW_BURST = 4294967296;
/** `DEFAULT_PR_BURST`: the driver's default packet burst. */
export const DEFAULT_PR_BURST = 5;

/** The driver's defaults. */
export const DEFAULT_QOS_SETTINGS: QosSettings = {
  maxIngressConnectionsPerPort: 0,
  maxEgressConnectionsPerPort: 0,
  ingressBurstBits: DEFAULT_BW_BURST,
  egressBurstBits: DEFAULT_BW_BURST,
  ingressMinburstBytes: 0,
  egressMinburstBytes: 0,
  ingressBurstPackets: DEFAULT_PR_BURST,
  egressBurstPackets: DEFAULT_PR_BURST,
};

type Range = readonly [number, number];
// The WorkloadEndpoint API's limits (libcalico-go workload_endpoint_default.go).
const BANDWIDTH: Range = [1000, 10 ** 15];
const BW_BURST: Range = [1000, 34359738360];
const BW_PEAKRATE: Range = [1010, 10 ** 15 + 10 ** 13];
const BW_MINBURST: Range = [1000, 10 ** 8];
const PACKET_RATE: Range = [1, 10 ** 4];
const PR_BURST: Range = [1, 10 ** 4];
const CONNECTIONS: Range = [1, 4294967295];

const cap = (v: number, [min, max]: Range): number => (v < min ? min : v > max ? max : v);

export type QosControls = Record<string, number>;

/** The `qosControls` of a port whose effective QoS policy is `policy` (undefined: none). Empty when nothing applies. */
export function qosControls(policy: NeutronQosPolicy | undefined, settings: QosSettings): QosControls {
  const qos: QosControls = {};
  const rules = policy?.rules ?? [];
  for (const r of rules) {
    if (r.type !== 'bandwidth_limit') continue;
    const dir = r.direction ?? 'egress';
    if ((r.max_kbps ?? 0) !== 0) qos[`${dir}Bandwidth`] = cap(r.max_kbps! * 1000, BANDWIDTH);
    if ((r.max_burst_kbps ?? 0) !== 0) qos[`${dir}Peakrate`] = cap(r.max_burst_kbps! * 1000, BW_PEAKRATE);
  }
  for (const r of rules) {
    if (r.type !== 'packet_rate_limit') continue;
    const dir = r.direction ?? 'egress';
    if ((r.max_kpps ?? 0) !== 0) qos[`${dir}PacketRate`] = cap(r.max_kpps! * 1000, PACKET_RATE);
  }
  if (settings.maxIngressConnectionsPerPort !== 0) qos.ingressMaxConnections = cap(settings.maxIngressConnectionsPerPort, CONNECTIONS);
  if (settings.maxEgressConnectionsPerPort !== 0) qos.egressMaxConnections = cap(settings.maxEgressConnectionsPerPort, CONNECTIONS);
  for (const [dir, burstBits, minburst] of [
    ['ingress', settings.ingressBurstBits, settings.ingressMinburstBytes],
    ['egress', settings.egressBurstBits, settings.egressMinburstBytes],
  ] as const) {
    if (!(`${dir}Bandwidth` in qos)) continue;
    qos[`${dir}Burst`] = burstBits !== 0 ? cap(burstBits, BW_BURST) : DEFAULT_BW_BURST;
    if (minburst !== 0 && `${dir}Peakrate` in qos) qos[`${dir}Minburst`] = cap(minburst, BW_MINBURST);
  }
  for (const [dir, packets] of [
    ['ingress', settings.ingressBurstPackets],
    ['egress', settings.egressBurstPackets],
  ] as const) {
    if (`${dir}PacketRate` in qos) qos[`${dir}PacketBurst`] = packets !== 0 ? cap(packets, PR_BURST) : DEFAULT_PR_BURST;
  }
  return qos;
}
