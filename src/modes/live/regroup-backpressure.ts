import type { GroupMember } from './live-cluster.js';
import type { LiveTask } from './live-task.js';

/** The lowest limit the heap can set: below it, held messages are not what fills the heap. */
const MIN_LIMIT = 10_000;

/**
 * Holds back the input partitions of a regrouped topology that run ahead in event time while
 * the regrouped tasks of this worker hold many messages (Flink's watermark alignment, for
 * memory). A regrouped task applies a message only once every origin task's watermark has
 * passed it, so while one input partition is behind (a backlog read from the start: each fetch
 * takes the same bytes of every partition, and a partition with fewer events per day races
 * ahead in time), everything the others send waits in memory: 1.4 million messages, 2.2 GB of
 * RSS, for 3 million flights read by one worker, and "JavaScript heap out of memory" in a heap
 * of 1 GiB.
 *
 * Over a limit of messages held by this worker's regrouped tasks (`--max-held`, or set when the
 * worker's heap runs short: heapShort), an origin task whose watermark is past another
 * (non-idle) origin task's has its input partitions paused after its batch (a batch of it
 * fetched meanwhile is left to be fetched again); they resume once no other is behind it or the
 * messages held fall to half the limit. Stopping in the middle of a batch would bound memory
 * tighter, but the rest of the batch would be fetched and decoded again at every pause: measured,
 * that halved the throughput. This worker's own origin tasks are compared as they stand, so the
 * one furthest behind among them runs; another worker's are seen as its watermarks last
 * arrived, which may make one of them look behind until its next watermark comes through the
 * repartition topic (never paused): nothing waits on a paused partition for good. Only timing
 * changes: what a task computes does not depend on when it reads.
 */
export class RegroupBackpressure {
  private readonly paused = new Set<number>();
  /** Partitions paused since start (a metric). */
  pauses = 0;

  /**
   * `maxHeld`: the limit from the start (`--max-held`); without it there is none until the
   * worker's heap runs short (heapShort).
   */
  constructor(
    private maxHeld: number,
    private readonly sourceTopics: readonly string[],
    private readonly member: () => GroupMember | undefined,
  ) {}

  /** Messages held before tasks running ahead are held back (Infinity: no limit yet). */
  get limit(): number {
    return this.maxHeld;
  }

  /**
   * The worker's heap was found short (heap-pressure.ts): when the regrouped tasks hold at least
   * MIN_LIMIT messages, the limit becomes half of what they hold now (never up again), so the
   * tasks running ahead stop until the one behind has released half of it.
   */
  heapShort(tasks: readonly LiveTask[]): void {
    const held = this.held(tasks);
    if (held >= MIN_LIMIT) this.maxHeld = Math.min(this.maxHeld, Math.max(MIN_LIMIT, Math.floor(held / 2)));
  }

  isPaused(partition: number): boolean {
    return this.paused.has(partition);
  }

  /** After a commit (or a tick): pause the tasks that run ahead while too much is held, resume the rest. */
  update(tasks: readonly LiveTask[]): void {
    const held = this.held(tasks);
    const view = originView(tasks);
    for (const task of view.local.values()) {
      const p = task.partition;
      if (this.paused.has(p)) {
        if (held <= this.maxHeld / 2 || !ahead(task, view)) this.setPaused(p, false);
      } else if (held > this.maxHeld && ahead(task, view)) this.setPaused(p, true);
    }
  }

  /** After a rebalance: partitions no longer owned are resumed (a later owner must find them fetching). */
  owned(partitions: readonly number[]): void {
    const keep = new Set(partitions);
    for (const p of [...this.paused]) if (!keep.has(p)) this.setPaused(p, false);
  }

  get pausedCount(): number {
    return this.paused.size;
  }

  /** Messages held by the regrouped tasks of `tasks`. */
  held(tasks: readonly LiveTask[]): number {
    let n = 0;
    for (const t of tasks) if (!t.closed && t.regroup !== undefined) n += t.regroup.held;
    return n;
  }

  private setPaused(partition: number, paused: boolean): void {
    const member = this.member();
    for (const topic of this.sourceTopics) {
      if (paused) member?.pause(topic, [partition]);
      else member?.resume(topic, [partition]);
    }
    if (paused) {
      this.paused.add(partition);
      this.pauses++;
    } else this.paused.delete(partition);
  }
}

/** This worker's open origin tasks with a regrouping, by partition, and how many origin tasks feed their regrouped tasks. */
interface OriginView {
  readonly local: ReadonlyMap<number, LiveTask>;
  readonly upstreams: number;
}

function originView(tasks: readonly LiveTask[]): OriginView {
  const local = new Map<number, LiveTask>();
  let upstreams = 0;
  for (const t of tasks) {
    if (t.closed || t.regroup === undefined) continue;
    local.set(t.partition, t);
    upstreams = Math.max(upstreams, t.regroup.upstreams);
  }
  return { local, upstreams };
}

/**
 * The task's watermark past another origin task's: this worker's own as they stand, the others'
 * as its regrouped tasks last received them (the freshest of those views). A view of a local
 * task would lag it by a round trip through the repartition topic, and the task furthest behind
 * could then look ahead of it and be paused with all the others.
 */
function ahead(task: LiveTask, view: OriginView): boolean {
  const own = task.task.regroupWatermark;
  for (let u = 0; u < view.upstreams; u++) {
    if (u === task.partition) continue;
    const mine = view.local.get(u);
    // An origin task that has sent nothing yet stands at -Infinity: everything waits for it.
    let w = -Infinity;
    if (mine !== undefined) w = mine.regroup!.declaredIdle ? Infinity : mine.task.regroupWatermark;
    else for (const t of view.local.values()) w = Math.max(w, t.regroup!.upstreamWatermark(u));
    if (own > w) return true;
  }
  return false;
}
