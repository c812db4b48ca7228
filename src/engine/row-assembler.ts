import type { AggValue } from '../ops/aggregation.js';
import { fillDerived } from './derived-features.js';
import { OffsetSlots } from './offset-slots.js';
import type { FeatureRow } from './outputs.js';
import type { OutputProgram, Program } from './program.js';
import type { PartialRow, RegroupAnswer, RowRef } from './regroup-messages.js';

interface Waiting {
  readonly row: PartialRow;
  /** Its place in the order rows came in (and leave in). */
  readonly seq: number;
  readonly values: AggValue[];
  missing: number;
  idleReleases: number;
}

/**
 * A partial row carries its event only when the assembler needs it: a label join, or a derived
 * feature that takes it (a second parameter).
 */
export const rowNeedsEvent = (o: OutputProgram): boolean => o.labelJoin !== undefined || o.derived.some(([, fn]) => fn.length !== 1);

/**
 * Rows and early answers by reference: per output and source, by offset. Numbers, not a string
 * per reference: the assembler sees every row and every answer of a regrouped replay.
 */
class RefIndex<T> {
  private readonly byOutput: Array<Map<string, OffsetSlots<T>>> = [];

  private offsets(r: RowRef): OffsetSlots<T> {
    let bySource = this.byOutput[r.output];
    if (bySource === undefined) this.byOutput[r.output] = bySource = new Map();
    let byOffset = bySource.get(r.source);
    if (byOffset === undefined) bySource.set(r.source, (byOffset = new OffsetSlots()));
    return byOffset;
  }

  get(r: RowRef): T | undefined {
    return this.offsets(r).get(r.offset);
  }

  set(r: RowRef, value: T): void {
    this.offsets(r).set(r.offset, value);
  }

  delete(r: RowRef): void {
    this.offsets(r).delete(r.offset);
  }
}

/**
 * Joins one origin partition's partial rows with the answers of the RegroupedTasks and emits
 * complete rows (regrouped columns, then derived features) in the order the task emitted the
 * partial rows: the partition's processing order, as rows without regroupings. Answers may come
 * in any order, before or after their row.
 */
export class RowAssembler {
  private readonly queue: Waiting[] = [];
  private nextSeq = 0;
  private head = 0;
  private readonly byRef = new RefIndex<Waiting>();
  /** Answers that came before their row. */
  private readonly early = new RefIndex<RegroupAnswer[]>();

  constructor(
    private readonly program: Program,
    readonly partition: number,
    private readonly emit: (row: FeatureRow, seq: number) => void,
  ) {}

  /** Rows waiting for an answer (or behind one that is). */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Add the next row; `seq` (default: one past the last) numbers it, for a caller that restores rows. */
  row(row: PartialRow, seq = this.nextSeq): void {
    this.nextSeq = seq + 1;
    const o = this.program.outputs[row.output];
    const w: Waiting = { row, seq, values: [...row.values], missing: o.regroupQueries.length, idleReleases: 0 };
    this.queue.push(w);
    this.byRef.set(row, w);
    const early = this.early.get(row);
    if (early !== undefined) {
      this.early.delete(row);
      for (const a of early) this.fill(w, a);
    }
    this.flush();
  }

  /** The row `ref` names is waiting here. */
  holds(ref: RowRef): boolean {
    return this.byRef.get(ref) !== undefined;
  }

  /** Fill a row's answer; returns the row's seq, or -1 when its row has not come yet (kept until it does). */
  answer(a: RegroupAnswer): number {
    const w = this.byRef.get(a);
    if (w === undefined) {
      const list = this.early.get(a);
      if (list === undefined) this.early.set(a, [a]);
      else list.push(a);
      return -1;
    }
    this.fill(w, a);
    this.flush();
    return w.seq;
  }

  private fill(w: Waiting, a: RegroupAnswer): void {
    const columns = this.program.outputs[a.output].regroupQueries[a.query].columns;
    for (let i = 0; i < columns.length; i++) w.values[columns[i]] = a.values[i];
    w.missing--;
    if (a.idleReleases > w.idleReleases) w.idleReleases = a.idleReleases;
  }

  private flush(): void {
    while (this.head < this.queue.length && this.queue[this.head].missing === 0) {
      const { row, seq, values, idleReleases } = this.queue[this.head++];
      this.byRef.delete(row);
      const o = this.program.outputs[row.output];
      fillDerived(o, values, row.event);
      this.emit({ output: o.name, source: row.source, partition: row.partition, offset: row.offset, key: row.key, eventTime: row.eventTime, values, event: row.event, idleReleases }, seq);
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
