/**
 * @gingham/wireguard: WireGuard for Gingham. x25519 keys with node:crypto, peer computation
 * from the node list (pure), and an apply layer that drives `wg`/`ip` against the kernel
 * module or wireguard-go. Everything public is exported here and only here.
 */
export { CommandFailedError, NotSupportedError, WireguardError, type WireguardErrorCode } from './errors.js';
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
export { canonicalIp, parseCidr, type Cidr } from './cidr.js';
export { parseWgDump, type WgDump, type WgDumpInterface, type WgDumpPeer } from './apply/dump.js';
export { diffPeers, renderWgSet, type InterfaceChanges, type PeerDiff, type WgSetCommand } from './apply/diff.js';
export {
  createLocalRunner,
  createNetnsRunner,
  type CommandResult,
  type CommandRunner,
  type RunOptions,
  type SpawnedProcess,
  type SpawnOptions,
} from './apply/runner.js';
export { detectWireguard, type WireguardCapabilities } from './apply/detect.js';
export { detectUnderlayMtu } from './apply/ip.js';
export { DEFAULT_STATE_DIR } from './apply/state.js';
export { DEFAULT_SOCKET_DIR } from './apply/userspace.js';
export {
  assertInterfaceName,
  createWireguard,
  validateDesiredState,
  DEFAULT_FWMARK,
  DEFAULT_INTERFACE_NAME,
  DEFAULT_ROUTE_TABLE,
  DEFAULT_RULE_PRIORITY,
  type ApplyResult,
  type DesiredWireguardState,
  type DownResult,
  type Wireguard,
  type WireguardEvent,
  type WireguardOptions,
} from './apply/wireguard.js';
export { type PeerChanges } from './apply/peerindex.js';
export { loadNodesFromManifests, runWireguardCommand, type LoadedNodes, type WireguardCliIO, type WireguardCliOptions } from './cli.js';
