/** A held item: something applied once every upstream watermark has passed its time. */
export interface Timed {
  readonly time: number;
}

interface Run<T> {
  items: T[];
  head: number;
}

/** Past this many runs, add() merges them all into one: a release looks at every run. */
const MAX_RUNS = 16;

/**
 * Items waiting below the watermarks, as runs sorted by `compare` (which must order by time
 * first), one per received batch. A release takes each run's prefix below the frontier and
 * merges those prefixes, so it costs what it releases, not a pass over everything held: a
 * regrouped replay holds about an hour of every upstream's messages and releases a little of
 * them per batch.
 */
export class HeldRuns<T extends Timed> {
  private runs: Array<Run<T>> = [];
  private count = 0;

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.count;
  }

  /** Hold a batch (sorted here, in place). */
  add(items: T[]): void {
    if (items.length === 0) return;
    items.sort(this.compare);
    this.runs.push({ items, head: 0 });
    this.count += items.length;
    if (this.runs.length > MAX_RUNS) this.runs = [{ items: this.remaining(), head: 0 }];
  }

  /** Remove and return the items with time < `below`, in `compare` order. */
  takeBelow(below: number): T[] {
    const parts: T[][] = [];
    const keep: Array<Run<T>> = [];
    for (const run of this.runs) {
      const { items, head } = run;
      let i = head;
      while (i < items.length && items[i].time < below) i++;
      if (i > head) parts.push(head === 0 && i === items.length ? items : items.slice(head, i));
      if (i === items.length) continue;
      // A run mostly released is copied once, so its released items do not stay reachable.
      if (i > 1024 && i * 2 > items.length) keep.push({ items: items.slice(i), head: 0 });
      else keep.push({ items, head: i });
    }
    this.runs = keep;
    if (parts.length === 0) return [];
    const out = parts.length === 1 ? parts[0] : parts.flat();
    this.count -= out.length;
    // Sorted runs concatenated: the sort merges them (TimSort finds the runs).
    if (parts.length > 1) out.sort(this.compare);
    return out;
  }

  /** Every held item, in no particular order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const { items, head } of this.runs) for (let i = head; i < items.length; i++) yield items[i];
  }

  /** Remove the items `take` selects and return them. */
  extract(take: (item: T) => boolean): T[] {
    const taken: T[] = [];
    const keep: Array<Run<T>> = [];
    for (const { items, head } of this.runs) {
      const left: T[] = [];
      for (let i = head; i < items.length; i++) (take(items[i]) ? taken : left).push(items[i]);
      if (left.length > 0) keep.push({ items: left, head: 0 });
    }
    this.runs = keep;
    this.count -= taken.length;
    return taken;
  }

  private remaining(): T[] {
    const all = this.runs.flatMap(({ items, head }) => (head === 0 ? items : items.slice(head)));
    all.sort(this.compare);
    return all;
  }
}
