/**
 * When a live worker applies the idle rule (idle-inputs.ts). A fixed tick made a release after
 * a pause wait idleMs plus up to one tick (half of idleMs, at most a second); this timer wakes
 * when the first waiting input will have been quiet idleMs, and otherwise on the old tick, which
 * still catches what the due times cannot foresee (an input that starts holding records while
 * the other has long been quiet, an end offset that moves without a record). Checks never
 * overlap: the next one is scheduled when one ends.
 */
export class IdleCheckTimer {
  /** The longest wait between two checks. */
  readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    idleMs: number,
    private readonly clock: () => number,
    /** The earliest wall-clock time after `now` a check could release something (IdleInputs.nextDue). */
    private readonly nextDue: (now: number) => number | undefined,
    /** The check; must not throw. */
    private readonly check: () => Promise<void>,
  ) {
    this.tickMs = idleCheckTick(idleMs);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.clock();
    this.timer = setTimeout(() => void this.run(), idleCheckDelay(now, this.nextDue(now), this.tickMs));
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    await this.check();
    this.schedule();
  }
}

/** The fixed tick: half of idleMs, between 100 ms and a second. */
export function idleCheckTick(idleMs: number): number {
  return Math.max(100, Math.min(1000, idleMs / 2));
}

/**
 * How long to wait from `now` for the next check: until `due` (plus a millisecond, so the
 * clock reads at least idleMs of quiet then: timers and Date.now may disagree by a fraction
 * of one) when that comes before the tick, else the tick.
 */
export function idleCheckDelay(now: number, due: number | undefined, tickMs: number): number {
  if (due === undefined) return tickMs;
  return Math.min(tickMs, Math.max(1, Math.ceil(due - now) + 1));
}
