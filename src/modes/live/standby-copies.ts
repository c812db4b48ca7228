/**
 * Warm standby copies (`run --standby N`, like Kafka Streams' num.standby.replicas): a worker
 * keeps local stores of tasks other workers own, following their changelog partitions, so that
 * when such a task lands here (its owner died or left) task-store.ts finds a local copy a
 * round behind and catches up from the changelog's tail instead of rebuilding from its start.
 *
 * A copy is only ever a cache of the changelog: it is written from committed (read_committed)
 * changelog records alone and records the offset it reflects exactly as a restore does, so the
 * task's open judges it by the same rules (behind: caught up; ahead, unreadable, of another
 * format or changelog: rebuilt or waited for) and nothing is computed from it before that.
 * Placement: the group's leader decides it (io/kafka/task-placement.ts). Every operation on one
 * copy's store runs in that copy's queue, so a release (the task is opening here) waits for at
 * most one write; the store is open only during a round.
 */
import { rmSync } from 'node:fs';
import { StoreUnavailableError, type LevelBackend, type BatchOp } from '../../state/state-backend.js';
import { encodeLocalMeta, localKey } from '../../state/task-state-keys.js';
import { taskStateDir } from '../../state/task-state-dir.js';
import type { MetricsRegistry } from '../../serve/metrics.js';
import { formatCount } from '../../io/number-format.js';
import { SerialQueue } from './serial-queue.js';
import { changelogOps, judgeLocalCopy, openBackend, readLocal, StoreLockedError, type TaskStoreContext } from './task-store.js';

export interface StandbyCopiesOptions {
  readonly store: TaskStoreContext;
  readonly partitions: number;
  /** Copies of each task kept on other workers (at most the other workers' number). */
  readonly copies: number;
  readonly metrics?: MetricsRegistry;
}

interface Copy {
  readonly backend: LevelBackend;
  /** Changelog offset the store reflects (its local meta says so too). */
  next: number;
}

const LAG = 'skewless_standby_lag_offsets';
const COPIES = 'skewless_standby_copies';
const COPIES_HELP = "Standby copies of other workers' tasks kept here, as of the last round";

export class StandbyCopies {
  /** Tasks placed here as standbys (owned ones excepted when a round runs). */
  private wanted: number[] = [];
  private owned = new Set<number>();
  /**
   * Stores open in the round under way: a copy's store is open only while a round brings it up
   * to date, so a worker sharing the --state root (whose own task it may be) is never locked
   * out for longer than a round.
   */
  private readonly open = new Map<number, Copy>();
  /** Per copy kept, the changelog offset it reflected at the end of its last round. */
  private readonly synced = new Map<number, number>();
  private readonly queues = new Map<number, SerialQueue>();
  /** Copies whose store another holder had locked last round (logged once). */
  private readonly busy = new Set<number>();
  private round: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: StandbyCopiesOptions) {}

  /** Tasks whose copies are kept here (brought up to date at least once since placed). */
  get held(): number[] {
    return [...this.synced.keys()].sort((a, b) => a - b);
  }

  /** Per copy kept here, the changelog offset it reflected at the end of its last round (the group's leader places tasks by it). */
  get copies(): ReadonlyMap<number, number> {
    return new Map(this.synced);
  }

  /** The group settled: the leader placed copies of these tasks here (task-placement.ts). */
  place(tasks: readonly number[]): void {
    const wanted = [...new Set(tasks)].filter((p) => Number.isInteger(p) && p >= 0 && p < this.opts.partitions).sort((a, b) => a - b);
    if (wanted.join() !== this.wanted.join()) this.opts.store.log(`skewless: standby copies of tasks ${wanted.join(', ') || '(none)'} (placed by the group's leader, ${this.opts.copies} per task asked)`);
    this.wanted = wanted;
    for (const p of this.synced.keys()) if (!wanted.includes(p)) this.drop(p);
  }

  /** A rebalance gave this worker these tasks: never standbys while owned. */
  own(partitions: Iterable<number>): void {
    this.owned = new Set(partitions);
    for (const p of this.owned) if (this.synced.has(p) || this.open.has(p)) this.drop(p);
  }

  /** Close the copy of task `p` if a round has it open (its store is about to be opened as the task's), after the write in progress. */
  release(p: number): Promise<void> {
    return this.queue(p).run(async () => {
      this.forget(p);
      const copy = this.open.get(p);
      if (copy === undefined) return;
      this.open.delete(p);
      await copy.backend.close();
    });
  }

  /** Bring every copy placed here up to its changelog's committed end (one read for all). One round at a time. */
  sync(): Promise<void> {
    this.round ??= this.syncOnce().finally(() => (this.round = undefined));
    return this.round;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.round?.catch(() => undefined);
    await Promise.all([...this.open.keys()].map((p) => this.release(p)));
  }

  private drop(p: number): void {
    this.release(p).catch((e: unknown) => this.opts.store.log(`skewless: closing the standby copy of task ${p} failed: ${e instanceof Error ? e.message : String(e)}`));
  }

  private forget(p: number): void {
    if (!this.synced.delete(p)) return;
    this.opts.metrics?.remove(LAG, { partition: String(p) });
    this.opts.metrics?.set(COPIES, 'gauge', COPIES_HELP, this.synced.size);
  }

  private queue(p: number): SerialQueue {
    let q = this.queues.get(p);
    if (q === undefined) this.queues.set(p, (q = new SerialQueue()));
    return q;
  }

  private placedHere(p: number): boolean {
    return !this.closed && !this.owned.has(p) && this.wanted.includes(p);
  }

  private async syncOnce(): Promise<void> {
    const { cluster, changelog, exactlyOnce } = this.opts.store;
    const targets = this.wanted.filter((p) => this.placedHere(p));
    if (targets.length === 0) return;
    const ends = await cluster.endOffsets(changelog);
    const ranges: Array<{ partition: number; start: number; end: number }> = [];
    try {
      for (const p of targets) {
        const end = ends.get(p) ?? 0;
        // Up to date at the end of its last round, and nothing committed since: not even opened.
        if (this.synced.get(p) === end) continue;
        const start = await this.queue(p).run(() => this.ready(p, end));
        // Under exactly-once the last offset is the batch's commit marker: no record to read.
        if (start !== undefined && end - start > (exactlyOnce ? 1 : 0)) ranges.push({ partition: p, start, end });
      }
      if (ranges.length > 0) {
        for await (const { partition, records } of cluster.readRanges(changelog, ranges)) {
          if (records.length === 0) continue;
          const next = records[records.length - 1].offset + 1;
          await this.write(partition, changelogOps(records), next);
          this.opts.metrics?.inc('skewless_standby_records_total', 'Changelog records applied to standby copies', records.length, { partition: String(partition) });
        }
      }
      for (const p of targets) {
        const end = ends.get(p) ?? 0;
        // Offsets past the last record (commit markers) are reflected too.
        if ((this.open.get(p)?.next ?? end) < end) await this.write(p, [], end);
        const next = this.open.get(p)?.next ?? this.synced.get(p);
        if (next === undefined || !this.placedHere(p)) continue;
        this.synced.set(p, next);
        this.opts.metrics?.set(LAG, 'gauge', 'Changelog offsets a standby copy is behind the committed end', Math.max(0, end - next), { partition: String(p) });
      }
      this.opts.metrics?.set(COPIES, 'gauge', COPIES_HELP, this.synced.size);
    } finally {
      await Promise.all(
        targets.map((p) =>
          this.queue(p).run(async () => {
            const copy = this.open.get(p);
            this.open.delete(p);
            await copy?.backend.close();
          }),
        ),
      );
    }
  }

  /** Apply store operations to a copy still placed here and record the changelog offset it now reflects. */
  private write(p: number, ops: BatchOp[], next: number): Promise<void> {
    return this.queue(p).run(async () => {
      const copy = this.open.get(p);
      if (copy === undefined || !this.placedHere(p) || next <= copy.next) return;
      ops.push({ type: 'put', key: localKey(p), value: encodeLocalMeta({ changelogNext: next, changelog: this.opts.store.changelog }) });
      await copy.backend.write(ops);
      copy.next = next;
    });
  }

  /**
   * The copy of task `p` open and usable, judged as task-store.ts judges a local copy: the
   * changelog offset to read on from, or undefined to leave it alone this round (its store is
   * locked by the task closing here, or it holds more than the committed end: the owner's open
   * decides what happens to such a copy, never a standby).
   */
  private async ready(p: number, end: number): Promise<number | undefined> {
    if (!this.placedHere(p)) return undefined;
    // Nothing committed yet: a local store here may be a bootstrap's that the task's first owner publishes.
    if (end === 0) return undefined;
    const { store } = this.opts;
    const dir = taskStateDir(store.stateDir, p);
    let backend: LevelBackend | undefined;
    let reason: string | undefined;
    try {
      backend = await openBackend(dir);
    } catch (e) {
      // Locked: the task closing here (revoked) still holds it. Unavailable: a full disk; a rebuild would need the same space.
      if (e instanceof StoreLockedError || e instanceof StoreUnavailableError) {
        if (!this.busy.has(p)) store.log(`skewless: standby copy of task ${p}: its store is in use (the task's owner on this state root, or the task closing here after a rebalance); trying again next round`);
        this.busy.add(p);
        return undefined;
      }
      reason = `the local store cannot be opened (${e instanceof Error ? e.message : String(e)})`;
    }
    this.busy.delete(p);
    let start = 0;
    if (backend !== undefined) {
      const copy = judgeLocalCopy(await readLocal(backend, p), store.changelog);
      if (copy.kind !== 'usable') reason = copy.reason;
      else if (copy.next > end) {
        await backend.close();
        return undefined;
      } else start = copy.next;
    }
    if (reason !== undefined) {
      await backend?.close();
      store.log(`skewless: standby copy of task ${p}: building it from changelog ${store.changelog} (${formatCount(end)} offsets) because ${reason}`);
      rmSync(dir, { recursive: true, force: true });
      backend = await openBackend(dir);
    }
    this.open.set(p, { backend: backend!, next: start });
    return start;
  }
}
