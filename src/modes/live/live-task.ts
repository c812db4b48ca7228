/**
 * One assigned partition's task in a live worker: the engine task, its local store, its own
 * producer (the transactional id that fences earlier owners), the records it emitted since
 * its last commit, and a queue so that batches, idle skips and shutdown never interleave.
 */
import type { Task } from '../../engine/task.js';
import type { TaskRecord } from '../../io/kafka/task-producer.js';
import type { LevelBackend } from '../../state/state-backend.js';
import type { TaskOutputPort } from './live-cluster.js';
import type { LiveRegroupTask } from './live-regroup-task.js';
import type { RecordBuffer } from './record-collector.js';
import { SerialQueue } from './serial-queue.js';

export class LiveTask implements RecordBuffer {
  private readonly queue = new SerialQueue();
  readonly out: TaskRecord[] = [];
  readonly parityLines: string[] = [];
  paritySamples = 0;
  /** Wall-clock time (ms) the last record of each source reached this task: idle detection only. */
  readonly lastInputAt = new Map<string, number>();
  /** Consecutive seeks to the same offset per topic, to tell a stuck position from a stale fetch. */
  readonly seeks = new Map<string, { offset: number; count: number; since: number }>();
  /** Set once the task is dropped (revoked, fenced or failed): queued work must not touch it. */
  closed = false;
  /** The regrouping parts of the task, when the topology has a regrouping (live-regroup-task.ts). */
  regroup: LiveRegroupTask | undefined;
  /** The store was rebuilt from the changelog when the task opened: what the engine cannot read in it, a rebuild would bring back. */
  rebuiltFromChangelog = false;
  /** The worker's heap-pressure episodes this task has lowered its cache bound for (task-commit.ts). */
  heapEpisodes = 0;

  constructor(
    readonly partition: number,
    readonly task: Task,
    readonly backend: LevelBackend,
    readonly producer: TaskOutputPort,
    /** The store holds state no changelog has: publish all of it with the first commit. */
    public seedChangelog: boolean,
    openedAt: number,
    sources: readonly string[],
  ) {
    for (const s of sources) this.lastInputAt.set(s, openedAt);
  }

  mergeSkips(): number {
    return this.task.counters.mergeSkips;
  }

  /** Run fn after everything queued before it, whether that succeeded or not. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  /** Release the store and the producer; whatever was not committed is forgotten. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.out.length = 0;
    this.parityLines.length = 0;
    await this.backend.close().catch(() => undefined);
    await this.producer.close().catch(() => undefined);
  }
}
