/**
 * The one place live may differ from replay (DESIGN.md rule 3): a task holding records may
 * release them without waiting for a quiet input, but only when that input holds nothing in
 * the merge, has been read up to the broker's end offset, and has been quiet for idleMs. Each
 * skip is logged with partition, input and stream times, and counted once (merge_skips).
 */
import { formatEventTime } from '../../time/event-time.js';
import type { LiveCluster, GroupMember } from './live-cluster.js';
import type { LiveTask } from './live-task.js';
import { MergeSkipLog, type SkippedInput } from './merge-skip-log.js';

export interface IdleInputsContext {
  readonly cluster: LiveCluster;
  /** Input topic per engine source name. */
  readonly sourceTopics: ReadonlyMap<string, string>;
  readonly idleMs: number;
  readonly clock: () => number;
  readonly log: (line: string) => void;
  readonly tasks: () => readonly LiveTask[];
  readonly member: () => GroupMember | undefined;
  /** Commit what a skip released (called inside the task's queue). */
  readonly commit: (lt: LiveTask) => Promise<void>;
  /** A skip or its commit failed. */
  readonly onFailure: (lt: LiveTask, e: unknown) => Promise<void>;
}

export class IdleInputs {
  private running = false;
  private readonly skips: MergeSkipLog;

  constructor(private readonly ctx: IdleInputsContext) {
    this.skips = new MergeSkipLog(ctx.log, ctx.clock);
  }

  /** Write the skips not logged yet (the worker is stopping). */
  flushLog(): void {
    this.skips.flush(true);
  }

  /**
   * The rule inside a batch of a task's busy input, before the batch commits (the caller holds
   * the task's queue): inputs that were already quiet idleMs when the batch came need not hold
   * its records until the next check, which would add up to a tick of latency to every batch
   * while a side input (a table, a rare stream) stays quiet. The inputs' end offsets are asked
   * for now, so "caught up" is as fresh as at a check; a broker round trip, only for batches
   * that leave records held while another input is already quiet that long. What is released
   * goes out with the batch's commit. Returns the records released.
   */
  async releaseInBatch(lt: LiveTask): Promise<number> {
    if (lt.task.pendingInputs === 0) return 0;
    const now0 = this.ctx.clock();
    const topics = new Set<string>();
    for (const [name, topic] of this.ctx.sourceTopics) {
      if (lt.task.pendingOf(name) === 0 && quietMs(lt, name, now0) >= this.ctx.idleMs) topics.add(topic);
    }
    if (topics.size === 0) return 0;
    let ends: Map<string, Map<number, number>>;
    try {
      ends = await this.endOffsetsOf(topics);
    } catch {
      // Not knowing the ends now only means not releasing now: the timer's check tries again.
      return 0;
    }
    const idle = this.idleInputs(lt, ends, this.ctx.clock());
    return idle.length === 0 ? 0 : this.skip(lt, idle);
  }

  /** Apply the rule to every task now (a timer calls this; so do tests). */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.skips.flush();
      const waiting = this.ctx.tasks().filter((lt) => lt.task.pendingInputs > 0);
      // Idle origins too: their input end may move past the positions they declared without a
      // record to read (an aborted transaction); the regrouped tasks then wait for them again,
      // and only a new mark at the new positions releases them.
      const origins = this.ctx.tasks().filter((lt) => lt.regroup !== undefined);
      if (waiting.length === 0 && origins.length === 0) return;
      const ends = await this.endOffsetsOf(new Set(this.ctx.sourceTopics.values()));
      const now = this.ctx.clock();
      for (const lt of waiting) await this.consider(lt, ends, now);
      for (const lt of origins) await this.considerRegroup(lt, ends, now);
    } finally {
      this.running = false;
    }
  }

  /**
   * The earliest wall-clock time after `now` at which an input the rule could act on will have
   * been quiet idleMs: a source with nothing in the merge of a task holding records, or the
   * last of an origin task's sources to go quiet. Undefined when none will (nothing waits, or
   * every such input has been quiet that long already: the check at `now` judged it). The
   * worker's timer wakes then rather than at its next tick, so a release after a pause waits
   * idleMs, not idleMs plus up to a tick. Whether the input is caught up is not known here (it
   * takes the broker's end offsets): the check at that time decides.
   */
  nextDue(now: number): number | undefined {
    let due = Infinity;
    // An input quiet for q ms now has been quiet idleMs at now + idleMs - q.
    const consider = (quiet: number): void => {
      const at = now + this.ctx.idleMs - quiet;
      if (at > now && at < due) due = at;
    };
    for (const lt of this.ctx.tasks()) {
      if (lt.closed) continue;
      if (lt.task.pendingInputs > 0) {
        for (const name of this.ctx.sourceTopics.keys()) if (lt.task.pendingOf(name) === 0) consider(quietMs(lt, name, now));
      } else if (lt.regroup !== undefined) {
        let quiet = Infinity;
        for (const name of this.ctx.sourceTopics.keys()) quiet = Math.min(quiet, quietMs(lt, name, now));
        consider(quiet);
      }
    }
    return due === Infinity ? undefined : due;
  }

  /** The broker's end offset of every partition of these topics. */
  private async endOffsetsOf(topics: Iterable<string>): Promise<Map<string, Map<number, number>>> {
    const ends = new Map<string, Map<number, number>>();
    for (const topic of topics) ends.set(topic, await this.ctx.cluster.endOffsets(topic));
    return ends;
  }

  /** How far a task has read an input, and how long that input has been quiet; undefined while it is not caught up. */
  private quietFor(lt: LiveTask, name: string, topic: string, end: number, now: number): { readonly reached: number; readonly quiet: number } | undefined {
    const reached = Math.max(lt.task.nextOffset(name), this.ctx.member()?.fetchedUpTo(topic, lt.partition) ?? 0);
    return reached < end ? undefined : { reached, quiet: quietMs(lt, name, now) };
  }

  /**
   * The same rule for regroupings: an origin task whose inputs are all caught up and quiet
   * tells the regrouped tasks not to wait for it (idle mark) until it sends again. Without it
   * the rows of the last minutes before a pause would wait for the next record of every
   * partition; replay's end of input releases them the same way.
   */
  private async considerRegroup(lt: LiveTask, ends: ReadonlyMap<string, ReadonlyMap<number, number>>, now: number): Promise<void> {
    if (lt.task.pendingInputs > 0) return;
    let quiet = Infinity;
    const positions: number[] = [];
    for (const [name, topic] of this.ctx.sourceTopics) {
      const q = this.quietFor(lt, name, topic, ends.get(topic)?.get(lt.partition) ?? 0, now);
      if (q === undefined || q.quiet < this.ctx.idleMs) return;
      quiet = Math.min(quiet, q.quiet);
      positions.push(q.reached);
    }
    const same = (declared: readonly number[] | undefined): boolean => declared !== undefined && declared.length === positions.length && declared.every((x, i) => x === positions[i]);
    if (same(lt.regroup!.idlePositions)) return;
    await lt.serial(async () => {
      const rg = lt.regroup!;
      if (lt.closed || same(rg.idlePositions) || lt.task.pendingInputs > 0) return;
      try {
        rg.declareIdle(positions);
        this.ctx.log(`skewless: task ${lt.partition}: inputs caught up and idle ${Math.round(quiet)} ms at stream time ${formatEventTime(lt.task.currentStreamTime)}; regrouped tasks no longer wait for it until it sends again`);
        await this.ctx.commit(lt);
      } catch (e) {
        await this.ctx.onFailure(lt, e);
      }
    });
  }

  /** The inputs of a task that hold nothing in its merge, are caught up with `ends` and quiet idleMs. */
  private idleInputs(lt: LiveTask, ends: ReadonlyMap<string, ReadonlyMap<number, number>>, now: number): SkippedInput[] {
    const idle: SkippedInput[] = [];
    for (const [name, topic] of this.ctx.sourceTopics) {
      if (lt.task.pendingOf(name) > 0 || !ends.has(topic)) continue;
      const q = this.quietFor(lt, name, topic, ends.get(topic)?.get(lt.partition) ?? 0, now);
      if (q !== undefined && q.quiet >= this.ctx.idleMs) idle.push({ name, topic, ...q });
    }
    return idle;
  }

  /**
   * Skip every input of a task holding records that is itself empty, caught up and quiet, all
   * at once: the merge waits for each input that has not ended, so two quiet inputs beside a
   * busy one must be skipped together or nothing is released.
   */
  private async consider(lt: LiveTask, ends: ReadonlyMap<string, ReadonlyMap<number, number>>, now: number): Promise<void> {
    const idle = this.idleInputs(lt, ends, now);
    if (idle.length === 0) return;
    await lt.serial(async () => {
      if (lt.closed) return;
      // An input a batch queued before this brought records to is no longer idle.
      const at = this.ctx.clock();
      const still = idle.filter((i) => lt.task.pendingOf(i.name) === 0 && quietMs(lt, i.name, at) >= this.ctx.idleMs);
      if (still.length === 0) return;
      try {
        if ((await this.skip(lt, still)) > 0) await this.ctx.commit(lt);
      } catch (e) {
        await this.ctx.onFailure(lt, e);
      }
    });
  }

  /** Skip these inputs of the task (inside its queue) and log the skip; the caller commits. */
  private async skip(lt: LiveTask, inputs: readonly SkippedInput[]): Promise<number> {
    const before = lt.task.currentStreamTime;
    const released = await lt.task.skipIdleInputs(inputs.map((i) => i.name));
    if (released > 0) {
      this.skips.skipped({ partition: lt.partition, number: lt.task.counters.mergeSkips, inputs, released, streamTimeBefore: before, streamTimeAfter: lt.task.currentStreamTime });
    }
    return released;
  }
}

/** How long an input of the task has been quiet at `now` (since its last batch, or the task's opening). */
function quietMs(lt: LiveTask, name: string, now: number): number {
  return now - (lt.lastInputAt.get(name) ?? now);
}
