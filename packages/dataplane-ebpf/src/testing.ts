/**
 * @gingham/dataplane-ebpf/testing: what it takes to drive the compiled datapath directly with
 * `BPF_PROG_TEST_RUN` (kernel tests, benches, anyone checking the program against `simulate`):
 * crafted Ethernet frames, the `__sk_buff` context, the byte layouts of the maps the program
 * reads and writes (policy tables, conntrack, events, counters, meta), and writing a compiler
 * diff into live maps. Not needed to enforce policy: that is `createEbpfDataplane`.
 */

// Crafted frames.
export {
  buildArp,
  buildIcmpError,
  buildPacket,
  IPV6_DSTOPTS,
  IPV6_FRAGMENT,
  IPV6_HOPOPTS,
  IPV6_ROUTING,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  type IcmpErrorOptions,
  type PacketOptions,
} from './packet.js';

// The program, its context and the maps it writes.
export {
  conntrackKey,
  decodeConntrackKey,
  decodeConntrackValue,
  decodeCounter,
  decodeEvent,
  decodeMetaValue,
  DATAPATH_PROGRAM,
  encodeConntrackValue,
  encodeEvent,
  encodeMetaValue,
  encodeSkbContext,
  META_NO_CT_INSERT,
  META_NO_EVENTS,
  readCounters,
  readDatapathObject,
  SHARED_MAP_NAMES,
  TC_ACT_OK,
  TC_ACT_SHOT,
  writeTables,
  type ConntrackKey,
  type ConntrackValue,
  type SharedMapName,
  type WritableMap,
} from './datapath.js';

// The policy maps' layouts (mirrored by bpf/gingham.h).
export {
  cloneMaps,
  emptyMaps,
  FLAG_DEFAULT,
  FLAG_FAILSAFE,
  FLAG_FORWARD,
  FLAG_LOG,
  FLAG_PROFILE,
  FLAG_UNTRACKED,
  MAP_NAMES,
  NONE32,
} from './wire.js';
