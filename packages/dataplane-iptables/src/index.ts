/**
 * @gingham/dataplane-iptables: enforces the Engine's state with iptables and ipset, in Calico's
 * layout. `render/` is pure (state → restore input), `apply/` plans and does the I/O (commands
 * through `@gingham/host`'s runner). Everything public is exported here and only here (the
 * shared conformance suite is the `./conformance` entry); the `gingham enforce` command that
 * drives it lives in `@gingham/cli`.
 */
export { IptablesError, type IptablesErrorCode } from './errors.js';

// The dataplane: plans and applies batches atomically, holds the instance lock, cleans up.
export {
  createIptablesDataplane,
  type ApplyStats,
  type ApplyTimings,
  type IptablesBackend,
  type IptablesDataplane,
  type IptablesDataplaneOptions,
  type IptablesLockOptions,
} from './apply/dataplane.js';
export { createIptablesFlowSource, type IptablesFlowSource, type IptablesFlowSourceOptions } from './flows/flow-source.js';
export { nflogPrefix, parseNflogPrefix, type NflogDecision } from './render/nflog-prefix.js';
export { formatCleanReport, type CleanBackend, type CleanEntry, type CleanReport } from './apply/clean.js';

// Rendering (pure): the chains, rules and IP sets a state becomes, as restore input.
export { renderState } from './render/render.js';
export { createRenderCache, type RenderCache } from './render/render-cache.js';
export { formatIpsetRestore, formatIptablesRestore } from './render/format.js';
export type { DenyAction, EndpointToHostAction, GroupDispatch, RenderOptions, Table } from './render/options.js';
export type { HookRule, HostFacts, Rendered, RenderedChain, RenderedRule, RenderedSet } from './render/rendered.js';
