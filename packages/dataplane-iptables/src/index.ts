/**
 * @gingham/dataplane-iptables: enforces the Engine's state with iptables and ipset, in Calico's
 * layout. `render/` is pure (state → restore input), `apply/` does the I/O. Everything public is
 * exported here and only here (the shared conformance suite is the `./conformance` entry).
 */
export { CommandFailedError, IptablesError, type IptablesErrorCode } from './errors.js';
export { applyMessages, emptyState, type IpSetEntry, type IptablesState } from './render/state.js';
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
export { createExecRunner, type CommandRunner, type ExecRunnerOptions, type RunResult } from './apply/runner.js';
export {
  createIptablesDataplane,
  type ApplyStats,
  type IptablesBackend,
  type IptablesDataplane,
  type IptablesDataplaneOptions,
} from './apply/dataplane.js';
export { ENFORCE_HELP, runEnforceCommand, type EnforceIo, type EnforceOptions } from './enforce.js';
