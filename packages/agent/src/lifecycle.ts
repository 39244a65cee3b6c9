/**
 * The agent's parts and their lifecycle, after Cilium's hive cells: each long-lived part
 * declares a start and a stop hook; parts start in the order they were appended and stop in
 * reverse. If a start fails, the parts already started are stopped again (in reverse) and the
 * error names the part. A stop that fails is recorded and the others still stop. It must never
 * leave a part half-started without stopping it.
 */
import { AgentError } from './errors.js';

export interface Hook {
  /** Short name for logs and errors: `lock`, `source`, `dataplane`, `health-server`, … */
  readonly name: string;
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
}

export interface StopFailure {
  readonly name: string;
  readonly error: unknown;
}

export class Lifecycle {
  private readonly hooks: Hook[] = [];
  private started: Hook[] = [];
  private state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new';

  append(hook: Hook): void {
    if (this.state !== 'new') throw new Error(`cannot add ${hook.name}: the lifecycle has ${this.state}`);
    this.hooks.push(hook);
  }

  /** Names of the parts, in start order. */
  names(): string[] {
    return this.hooks.map((h) => h.name);
  }

  async start(onStarted?: (name: string, ms: number) => void): Promise<void> {
    if (this.state !== 'new') throw new Error(`the lifecycle has ${this.state} already`);
    this.state = 'starting';
    for (const hook of this.hooks) {
      if ((this.state as string) === 'stopping' || (this.state as string) === 'stopped') return;
      const t0 = performance.now();
      try {
        await hook.start?.();
      } catch (error) {
        await this.stop();
        if (error instanceof AgentError) throw error;
        throw new AgentError('AGENT_START_FAILED', `${hook.name} could not start: ${(error as Error).message?.replace(/^gingham: /, '') ?? String(error)}`, { cause: error });
      }
      this.started.push(hook);
      onStarted?.(hook.name, performance.now() - t0);
    }
    if (this.state === 'starting') this.state = 'started';
  }

  /** Stops every started part in reverse order; returns the stops that failed. Idempotent. */
  async stop(): Promise<StopFailure[]> {
    if (this.state === 'stopped' || this.state === 'stopping') return [];
    this.state = 'stopping';
    const failures: StopFailure[] = [];
    for (const hook of this.started.reverse()) {
      try {
        await hook.stop?.();
      } catch (error) {
        failures.push({ name: hook.name, error });
      }
    }
    this.started = [];
    this.state = 'stopped';
    return failures;
  }
}
