/**
 * Deletes what the regrouping's internal topics hold below the positions their readers have
 * committed, as Kafka Streams purges its repartition topics: otherwise they keep every message
 * and answer for their retention. Partition P of both internal topics has one reader, task P,
 * whose transaction commits its position together with the state that reflects it, so nothing
 * below a committed position is ever read again (a restore resumes at the state's positions,
 * which are at least as far). Purges run on a timer, never on the batch path.
 */
import type { TopicPartitionOffset } from '../../io/kafka/group-consumer.js';
import type { LiveCluster } from './live-cluster.js';

export class RegroupPurge {
  /** Per internal topic: partition → committed position not purged yet. */
  private readonly due = new Map<string, Map<number, number>>();
  private readonly purged = new Map<string, Map<number, number>>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly cluster: Pick<LiveCluster, 'deleteRecordsBefore'>,
    private readonly topics: readonly string[],
  ) {
    for (const t of topics) {
      this.due.set(t, new Map());
      this.purged.set(t, new Map());
    }
  }

  /** After a commit: the positions it made durable (those of other topics are ignored). */
  committed(offsets: readonly TopicPartitionOffset[]): void {
    for (const o of offsets) {
      const due = this.due.get(o.topic);
      if (due === undefined || o.offset <= (this.purged.get(o.topic)!.get(o.partition) ?? 0)) continue;
      if (o.offset > (due.get(o.partition) ?? 0)) due.set(o.partition, o.offset);
    }
  }

  /** Delete below every position committed since the last purge; one purge at a time. Returns the records' partitions purged. */
  async purge(): Promise<number> {
    if (this.running !== undefined) await this.running;
    let partitions = 0;
    const run = (async (): Promise<void> => {
      for (const topic of this.topics) {
        const due = this.due.get(topic)!;
        if (due.size === 0) continue;
        const offsets = [...due].map(([partition, offset]) => ({ partition, offset }));
        due.clear();
        try {
          await this.cluster.deleteRecordsBefore(topic, offsets);
        } catch (e) {
          // Nothing is lost by purging later: keep the positions for the next run.
          for (const o of offsets) if (o.offset > (due.get(o.partition) ?? 0)) due.set(o.partition, o.offset);
          throw e;
        }
        const purged = this.purged.get(topic)!;
        for (const o of offsets) purged.set(o.partition, o.offset);
        partitions += offsets.length;
      }
    })();
    this.running = run.finally(() => (this.running = undefined));
    await this.running;
    return partitions;
  }
}
