/**
 * @gingham/dataplane-iptables: enforces the Engine's state with iptables and ipset, in Calico's
 * layout. `render/` is pure (state → restore input), `apply/` plans and does the I/O (commands
 * through `@gingham/host`'s runner). Everything public is exported here and only here (the
 * shared conformance suite is the `./conformance` entry).
 */
export { IptablesError, type IptablesErrorCode } from './errors.js';
export {
  formatIpsetRestore,
  formatIptablesRestore,
  formatRule,
  renderState,
  resolveRenderOptions,
  type DenyAction,
  type EndpointToHostAction,
  type HookRule,
  type HostFacts,
  type Rendered,
  type RenderedChain,
  type RenderedRule,
  type RenderedSet,
  type RenderOptions,
  type ResolvedRenderOptions,
  type Table,
} from './render/render.js';
export { chainName, setName, MAX_CHAIN_NAME, MAX_SET_NAME } from './render/names.js';
export {
  createIptablesDataplane,
  type ApplyStats,
  type IptablesBackend,
  type IptablesDataplane,
  type IptablesDataplaneOptions,
  type IptablesLockOptions,
} from './apply/dataplane.js';
export { createIptablesFlowSource, type IptablesFlowSource, type IptablesFlowSourceOptions } from './flows/flow-source.js';
export { nflogPrefix, parseNflogPrefix, type NflogDecision } from './render/render.js';
export { formatCleanReport, type CleanBackend, type CleanEntry, type CleanReport } from './apply/clean.js';
export { ENFORCE_HELP, ENFORCE_LOCK_WAIT_MS, runEnforceCommand, type EnforceIo, type EnforceOptions } from './enforce.js';
