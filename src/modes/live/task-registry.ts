/**
 * The tasks a live worker holds: which partitions it owns since the last rebalance, the tasks
 * opened for them, and the opens in progress, so a partition is opened once however many
 * batches and idle checks ask for it, and a task revoked while it opened is released at once.
 */
import type { LiveTask } from './live-task.js';

export class TaskRegistry {
  private readonly tasks = new Map<number, LiveTask>();
  private readonly opening = new Map<number, Promise<LiveTask>>();
  private owned = new Set<number>();
  /** Partitions whose local copy proved unusable: rebuilt from the changelog on the next open. */
  private readonly rebuild = new Set<number>();
  private stopped = false;

  constructor(
    private readonly open: (partition: number, rebuild: boolean) => Promise<LiveTask>,
    /** Told how many owned partitions have no open task yet, whenever that may have changed. */
    private readonly onNotReady: (partitions: number) => void = () => {},
  ) {}

  /**
   * Owned partitions whose task is not open yet (opening, restoring, or dropped after a failed
   * batch): until it is, the task's waiting rows, held messages and lag are not counted anywhere,
   * so "nothing waiting" means caught up only when this is 0 too.
   */
  notReady(): number {
    let n = 0;
    for (const p of this.owned) if (!this.tasks.has(p)) n++;
    return n;
  }

  private changed(): void {
    this.onNotReady(this.notReady());
  }

  owns(partition: number): boolean {
    return this.owned.has(partition);
  }

  /** Open tasks (for idle checks and shutdown). */
  all(): LiveTask[] {
    return [...this.tasks.values()];
  }

  markForRebuild(partition: number): void {
    this.rebuild.add(partition);
  }

  /** The task of an owned partition, opening (and if needed restoring) it on first use. */
  taskFor(partition: number): Promise<LiveTask> {
    const lt = this.tasks.get(partition);
    if (lt) return Promise.resolve(lt);
    let p = this.opening.get(partition);
    if (!p) {
      const rebuild = this.rebuild.delete(partition);
      p = this.open(partition, rebuild).then(
        async (t) => {
          this.opening.delete(partition);
          if (!this.owned.has(partition) || this.stopped) {
            // Revoked (or stopping) while it opened: release the store and the id for the new owner.
            await t.close();
            throw new Error(`task ${partition} was revoked while it opened`);
          }
          this.tasks.set(partition, t);
          this.changed();
          return t;
        },
        (e: unknown) => {
          this.opening.delete(partition);
          throw e;
        },
      );
      this.opening.set(partition, p);
    }
    return p;
  }

  /** Forget a task (its memory is not durable, or it was revoked) and release its store and producer. */
  async drop(lt: LiveTask): Promise<void> {
    if (this.tasks.get(lt.partition) === lt) this.tasks.delete(lt.partition);
    this.changed();
    await lt.close();
  }

  /**
   * A rebalance: release revoked tasks (every applied batch is committed) once their queued
   * work is done; returns the partitions now owned that have no task yet.
   */
  assign(partitions: Iterable<number>): number[] {
    this.owned = new Set(partitions);
    for (const [p, lt] of this.tasks) {
      if (this.owned.has(p)) continue;
      this.tasks.delete(p);
      void lt.serial(() => lt.close());
    }
    this.changed();
    return this.stopped ? [] : [...this.owned].filter((p) => !this.tasks.has(p)).sort((a, b) => a - b);
  }

  /** Close every task after its queued work. */
  async closeAll(): Promise<void> {
    this.stopped = true;
    // An open still in flight (a restore started by the last assignment) closes its task itself
    // once it sees `stopped`: wait for it, so that no store or producer outlives the stop.
    await Promise.allSettled([...this.opening.values()]);
    for (const lt of this.tasks.values()) await lt.serial(() => lt.close());
    this.tasks.clear();
  }
}
