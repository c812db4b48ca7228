/**
 * How long a failing partition waits before it is tried again, and when the worker gives up:
 * exponential back-off from 250 ms to 10 s while a partition keeps failing, and a deadline
 * after which the failure is reported instead of retried (a broker or registry that stays away).
 */
export interface BackoffDecision {
  /** Give up: the partition has failed continuously for longer than the deadline. */
  readonly giveUp: boolean;
  readonly delayMs: number;
  /** Seconds since the first failure of this run of failures. */
  readonly failingForS: number;
}

export class FailureBackoff {
  private readonly since = new Map<number, number>();

  constructor(private readonly deadlineMs: number) {}

  failed(partition: number, now: number): BackoffDecision {
    const since = this.since.get(partition) ?? now;
    this.since.set(partition, since);
    const failingFor = now - since;
    return {
      giveUp: failingFor > this.deadlineMs,
      delayMs: Math.min(10_000, 250 * 2 ** Math.min(6, Math.floor(failingFor / 2000))),
      failingForS: Math.round(failingFor / 1000),
    };
  }

  succeeded(partition: number): void {
    this.since.delete(partition);
  }
}
