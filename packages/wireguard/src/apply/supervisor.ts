/**
 * Supervision of an attached wireguard-go (a handle created with `detach: false`): when the
 * daemon exits, it is restarted with exponential backoff, at most `maxRestarts` times within
 * `windowMs`, by re-applying the last desired state; every step is reported as an event. A
 * detached daemon is not supervised here (the next `apply` restarts it when found dead).
 */
import type { RestartPolicy, WireguardEvent } from './options.js';
import type { ApplyResult } from './result.js';

/** What the supervisor asks of its handle. */
export interface SupervisedHandle {
  /** The daemon is gone: whatever the handle remembers about the device is stale. */
  onExit(): void;
  /** Whether there is a desired state to re-apply. */
  canReapply(): boolean;
  /** Re-applies the last desired state (which starts a new daemon). */
  reapply(): Promise<ApplyResult>;
}

export class DaemonSupervisor {
  private attached: number | undefined;
  private stopped = false;
  private readonly restarts: number[] = [];

  constructor(
    private readonly policy: Required<RestartPolicy>,
    private readonly emit: (event: WireguardEvent) => void,
    private readonly handle: SupervisedHandle,
  ) {}

  /** The attached daemon's pid, while one is watched. */
  get pid(): number | undefined {
    return this.attached;
  }

  /** No more restarts (the handle is closing). */
  get stopping(): boolean {
    return this.stopped;
  }

  /** Stops watching `pid` (it is being taken down on purpose). */
  forget(pid: number): void {
    if (this.attached === pid) this.attached = undefined;
  }

  /** Restarts stop; a watched daemon that exits from now on stays down. */
  stop(): void {
    this.stopped = true;
  }

  /** Watches a daemon just started by the handle. */
  watch(pid: number, exited: Promise<{ code: number | null; signal: string | null }>): void {
    this.attached = pid;
    void exited.then(async ({ code, signal }) => {
      if (this.attached !== pid) return;
      this.attached = undefined;
      this.handle.onExit();
      if (this.stopped) return;
      this.emit({ kind: 'daemon-exited', pid, code, signal });
      const now = Date.now();
      while (this.restarts.length > 0 && this.restarts[0]! < now - this.policy.windowMs) this.restarts.shift();
      if (this.restarts.length >= this.policy.maxRestarts || !this.handle.canReapply()) {
        this.emit({ kind: 'daemon-gave-up', restarts: this.restarts.length });
        return;
      }
      const attempt = this.restarts.length + 1;
      this.restarts.push(now);
      await new Promise((r) => setTimeout(r, this.policy.backoffMs * 2 ** (attempt - 1)));
      if (this.stopped) return;
      try {
        const r = await this.handle.reapply();
        if (r.pid !== undefined) this.emit({ kind: 'daemon-restarted', pid: r.pid, attempt });
      } catch (error) {
        this.emit({ kind: 'daemon-gave-up', restarts: this.restarts.length, error });
      }
    });
  }
}
