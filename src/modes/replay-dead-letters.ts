import type { InputBatch, InputRecord } from '../engine/input.js';
import type { DeadLetter } from '../engine/outputs.js';
import type { Task } from '../engine/task.js';
import { rawForJson } from './ndjson-sink.js';
import type { ReplayInput } from './replay-input.js';

/**
 * Complete dead letters for a replay: the engine names a record by (source, partition,
 * offset); this finds the record itself among the batches a task has not fully applied yet
 * (the canonical merge may hold records back across batches), and writes its position in the
 * input (file and line / record / row) and its raw form: the text or bytes read (bytes as
 * `base64:`), or the decoded value as JSON when the record was read fine and the engine
 * rejected it. Batches are dropped once the task has applied all of them.
 */
export class DeadLetterRecords {
  /** Per partition, per source: batches not yet fully applied, in offset order. */
  private readonly held = new Map<number, Map<string, InputBatch[]>>();

  constructor(private readonly input: ReplayInput) {}

  /** Call before the task processes the batch. */
  hold(batch: InputBatch): void {
    if (batch.records.length === 0) return;
    let bySource = this.held.get(batch.partition);
    if (!bySource) this.held.set(batch.partition, (bySource = new Map()));
    const list = bySource.get(batch.source);
    if (list) list.push(batch);
    else bySource.set(batch.source, [batch]);
  }

  /** Call after the task processed a batch: forget the batches it has applied. */
  release(partition: number, task: Task): void {
    const bySource = this.held.get(partition);
    if (!bySource) return;
    const applied = task.resumePositions();
    for (const [source, list] of bySource) {
      const next = applied[source] ?? 0;
      let drop = 0;
      while (drop < list.length && lastOffset(list[drop]) < next) drop++;
      if (drop > 0) list.splice(0, drop);
    }
  }

  /** The dead letter as written to `_dead_letters/`. */
  json(d: DeadLetter): Record<string, unknown> {
    const rec = this.find(d);
    const position = rec === undefined ? undefined : this.input.position?.(d.source, d.partition, rec);
    return { source: d.source, partition: d.partition, offset: d.offset, ...position, reason: d.reason, raw: rawForJson(d.raw ?? rec?.raw) ?? valueJson(rec?.value) };
  }

  private find(d: DeadLetter): InputRecord | undefined {
    const list = this.held.get(d.partition)?.get(d.source);
    if (!list) return undefined;
    for (const batch of list) {
      const records = batch.records;
      const guess = records[d.offset - records[0].offset];
      if (guess?.offset === d.offset) return guess;
      if (d.offset >= records[0].offset && d.offset <= lastOffset(batch)) return records.find((r) => r.offset === d.offset);
    }
    return undefined;
  }
}

function lastOffset(batch: InputBatch): number {
  return batch.records[batch.records.length - 1].offset;
}

function valueJson(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return undefined;
  }
}
