import type { AggValue } from '../ops/aggregation.js';
import { fillDerived } from './derived-features.js';
import type { FeatureRow } from './outputs.js';
import type { OutputProgram, Program } from './program.js';
import type { PartialRow, RegroupAnswer, RowRef } from './regroup-messages.js';

interface Waiting {
  readonly row: PartialRow;
  /** Its place in the order rows came in (and leave in). */
  readonly seq: number;
  readonly values: AggValue[];
  missing: number;
}

/**
 * A partial row carries its event only when the assembler needs it: a label join, or a derived
 * feature that takes it (a second parameter).
 */
export const rowNeedsEvent = (o: OutputProgram): boolean => o.labelJoin !== undefined || o.derived.some(([, fn]) => fn.length !== 1);

const refId = (r: RowRef): string => `${r.output}|${r.source}|${r.offset}`;

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
  private readonly byRef = new Map<string, Waiting>();
  /** Answers that came before their row. */
  private readonly early = new Map<string, RegroupAnswer[]>();

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
    const w: Waiting = { row, seq, values: [...row.values], missing: o.regroupQueries.length };
    const id = refId(row);
    this.queue.push(w);
    this.byRef.set(id, w);
    const early = this.early.get(id);
    if (early !== undefined) {
      this.early.delete(id);
      for (const a of early) this.fill(w, a);
    }
    this.flush();
  }

  /** The row `ref` names is waiting here. */
  holds(ref: RowRef): boolean {
    return this.byRef.has(refId(ref));
  }

  /** Fill a row's answer; returns the row's seq, or -1 when its row has not come yet (kept until it does). */
  answer(a: RegroupAnswer): number {
    const id = refId(a);
    const w = this.byRef.get(id);
    if (w === undefined) {
      const list = this.early.get(id);
      if (list === undefined) this.early.set(id, [a]);
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
  }

  private flush(): void {
    while (this.head < this.queue.length && this.queue[this.head].missing === 0) {
      const { row, seq, values } = this.queue[this.head++];
      this.byRef.delete(refId(row));
      const o = this.program.outputs[row.output];
      fillDerived(o, values, row.event);
      this.emit({ output: o.name, source: row.source, partition: row.partition, offset: row.offset, key: row.key, eventTime: row.eventTime, values, event: row.event }, seq);
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
