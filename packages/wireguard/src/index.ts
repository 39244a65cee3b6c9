/**
 * @gingham/wireguard: WireGuard for Gingham. x25519 keys with node:crypto, peer computation
 * from the node list (pure), and a handle that converges an interface through `@gingham/host`'s
 * runner (`wg`, `ip`) on the kernel module or wireguard-go. Library only: the `gingham wireguard`
 * command lives in `@gingham/cli`. Everything public is exported here and only here (test
 * helpers: the `./testing` entry).
 */
export { WireguardError, type WireguardErrorCode } from './errors.js';
export {
  assertValidKey,
  generateKeyFile,
  generateKeyPair,
  isValidKey,
  publicKeyFromPrivate,
  readPrivateKeyFile,
  rotateKeyFile,
  writePrivateKeyFile,
  type KeyFileWritten,
  type KeyPair,
  type KeyRotation,
  type WriteKeyFileOptions,
} from './keys.js';
export {
  computeWireguardConfig,
  formatPeerIssue,
  DEFAULT_LISTEN_PORT,
  DEFAULT_LISTEN_PORT_V6,
  DEFAULT_UNDERLAY_MTU,
  WIREGUARD_OVERHEAD_IPV4,
  WIREGUARD_OVERHEAD_IPV6,
  type ComputeWireguardOptions,
  type InterfaceSettings,
  type PeerIssue,
  type PeerIssueCode,
  type WireguardConfig,
  type WireguardPeer,
} from './peers.js';
export { parseWgDump, type WgDump, type WgDumpInterface, type WgDumpPeer } from './apply/dump.js';
export { diffPeers, renderWgSet, type InterfaceChanges, type PeerDiff, type WgSetCommand } from './apply/diff.js';
export { detectWireguard, type WireguardCapabilities } from './apply/detect.js';
export { detectUnderlayMtu } from './apply/ip.js';
export { DEFAULT_STATE_DIR } from './apply/state.js';
export { DEFAULT_SOCKET_DIR, type HostPaths } from './apply/userspace.js';
export {
  assertInterfaceName,
  DEFAULT_FWMARK,
  DEFAULT_INTERFACE_NAME,
  DEFAULT_ROUTE_TABLE,
  DEFAULT_RULE_PRIORITY,
  type RestartPolicy,
  type WireguardEvent,
  type WireguardOptions,
} from './apply/options.js';
export { validateDesiredState, type DesiredWireguardState } from './apply/desired.js';
export { planApply, planPeerChanges, type ApplyPlan, type Operation, type PlanInput } from './apply/plan.js';
export { type ApplyResult, type DownResult } from './apply/result.js';
export { createWireguard, type Wireguard } from './apply/wireguard.js';
export { type PeerChanges } from './apply/peerindex.js';
