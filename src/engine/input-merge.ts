/**
 * Canonical merge of a task's input partitions (DESIGN.md rule 3): the next record is the
 * smallest (eventTime, inputRank, partition, offset) among the heads of all inputs, and a
 * record is only released once every input that has not ended has a head to compare with.
 */
export interface Mergeable {
  readonly t: number;
  readonly rank: number;
  readonly partition: number;
  readonly offset: number;
}

function before(a: Mergeable, b: Mergeable): boolean {
  if (a.t !== b.t) return a.t < b.t;
  if (a.rank !== b.rank) return a.rank < b.rank;
  if (a.partition !== b.partition) return a.partition < b.partition;
  return a.offset < b.offset;
}

export class InputMerge<T extends Mergeable> {
  private readonly queues: T[][];
  private readonly heads: number[];
  private readonly ended: boolean[];

  constructor(inputs: number) {
    this.queues = Array.from({ length: inputs }, () => []);
    this.heads = new Array<number>(inputs).fill(0);
    this.ended = new Array<boolean>(inputs).fill(false);
  }

  push(input: number, items: readonly T[]): void {
    const q = this.queues[input];
    for (const it of items) q.push(it);
  }

  /** No more records will come from this input (end of a replay range, or an idle skip in live mode). */
  end(input: number): void {
    this.ended[input] = true;
  }

  reopen(input: number): void {
    this.ended[input] = false;
  }

  /** Release every record whose position in the canonical order is already decided. */
  drain(out: T[]): void {
    const n = this.queues.length;
    for (;;) {
      let best = -1;
      for (let i = 0; i < n; i++) {
        const q = this.queues[i];
        if (this.heads[i] >= q.length) {
          if (!this.ended[i]) return;
          continue;
        }
        if (best < 0 || before(q[this.heads[i]], this.queues[best][this.heads[best]])) best = i;
      }
      if (best < 0) return;
      out.push(this.queues[best][this.heads[best]++]);
      if (this.heads[best] > 1024 && this.heads[best] * 2 > this.queues[best].length) {
        this.queues[best] = this.queues[best].slice(this.heads[best]);
        this.heads[best] = 0;
      }
    }
  }

  pendingOf(input: number): number {
    return this.queues[input].length - this.heads[input];
  }

  get pending(): number {
    let n = 0;
    for (let i = 0; i < this.queues.length; i++) n += this.queues[i].length - this.heads[i];
    return n;
  }
}
