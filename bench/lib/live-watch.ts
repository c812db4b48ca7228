/** Feeding a running live worker and watching what it emits: a periodic trickle, and a reader of its feature vectors. */
import type { OutputColumn } from '../../src/engine/outputs.js';
import { featureRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import type { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { WireDecoder } from '../../src/io/avro/wire-decoder.js';
import { GroupConsumer } from '../../src/io/kafka/group-consumer.js';
import type { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { commitGroupOffsets, fetchOffsets } from '../../src/io/kafka/topic-admin.js';

/** Calls `round` every `everyMs`, skipping a tick while the previous round is still in flight; its first failure is kept for check(). */
export class Trickle {
  private readonly timer: NodeJS.Timeout;
  private busy: Promise<void> | undefined;
  private error: unknown;

  constructor(round: () => Promise<void>, everyMs: number) {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = round().then(
        () => void (this.busy = undefined),
        (e: unknown) => void ((this.error = e), (this.busy = undefined)),
      );
    }, everyMs);
  }

  /** Throws the error of a failed round, if any. */
  check(): void {
    if (this.error !== undefined) throw this.error instanceof Error ? this.error : new Error(String(this.error));
  }

  /** No more rounds; resolves when the one in flight is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
  }
}

/**
 * A consumer (read_committed) of a feature output topic from its current end, on its own group:
 * `onVector` gets each decoded vector (key, event_time, partition, offset, columns) with the
 * time (performance.now()) its batch arrived.
 */
export async function watchVectors(
  conn: KafkaConnection,
  registry: SchemaRegistryClient,
  o: { readonly groupId: string; readonly topic: string; readonly output: { readonly name: string; readonly columns: readonly OutputColumn[] } },
  onVector: (v: Record<string, unknown>, t: number) => void,
): Promise<GroupConsumer> {
  const ends = await fetchOffsets(conn, o.topic);
  await commitGroupOffsets(conn, o.groupId, o.topic, ends.map((p) => ({ partition: p.partition, offset: p.high })));
  const decoder = new WireDecoder(registry, featureRecordSchema(o.output.name, o.output.columns));
  return GroupConsumer.start(conn, {
    groupId: o.groupId,
    topics: [o.topic],
    maxWaitMs: 50,
    onBatch: async (batch, ctl) => {
      const t = performance.now();
      for (const d of await decoder.decodeAll(batch.messages.map((m) => m.value))) if (d.value !== undefined) onVector(d.value as Record<string, unknown>, t);
      ctl.done();
    },
  });
}
