/**
 * Typed errors of `@gingham/agent`. Every error is a `GinghamError` (message prefix `gingham: `)
 * with a stable `code`; callers branch on the code, never on the text.
 */
import { GinghamError } from '@gingham/core';

export type AgentErrorCode =
  /** A setting is wrong or missing (flag, environment variable or config file field, named). */
  | 'AGENT_CONFIG'
  /** Another agent runs for this node (the instance lock names it). */
  | 'AGENT_LOCKED'
  /** A component could not start; the ones started before it were stopped again. */
  | 'AGENT_START_FAILED'
  /** The dataplane refused a batch as breaking its contract: the agent's view and the kernel's differ; restart. */
  | 'AGENT_DATAPLANE_DIVERGED'
  /** `gingham agent status` found no agent answering on the status endpoint. */
  | 'AGENT_NOT_RUNNING'
  /** The agent was stopped. */
  | 'AGENT_STOPPED'
  /** The flow source's kernel reader (a child process) died and was restarted: some flows of that moment are missing. */
  | 'AGENT_FLOW_SOURCE_RESTARTED';

export class AgentError extends GinghamError {
  declare readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
