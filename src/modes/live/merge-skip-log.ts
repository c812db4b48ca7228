/**
 * The log of a worker's merge skips (DESIGN.md rule 3: each is counted and logged). A task
 * whose side input stays quiet while its main input flows skips it for every batch; a line per
 * batch would bury everything else. So a skip is logged in full when its task's last full line
 * is SUMMARY_MS old or named other inputs; the skips in between are logged together, in one
 * line that numbers them (`merge skips 2–57`), when the next full line is due, once that line is
 * SUMMARY_MS old (flush, at every idle check) or when the worker stops (a task that moved
 * meanwhile keeps its lines: they are by partition). Every skip reaches the log, with its
 * number; the counter (merge_skips) counts each one.
 */
import { formatEventTime } from '../../time/event-time.js';

/** How long the skips after a full line are gathered into one. */
export const SUMMARY_MS = 10_000;

/** An input skipped: its source, topic, the offset it was read up to and how long it had been quiet. */
export interface SkippedInput {
  readonly name: string;
  readonly topic: string;
  readonly reached: number;
  readonly quiet: number;
}

export interface MergeSkip {
  readonly partition: number;
  /** The task's merge skip counter after this skip. */
  readonly number: number;
  readonly inputs: readonly SkippedInput[];
  readonly released: number;
  readonly streamTimeBefore: number;
  readonly streamTimeAfter: number;
}

interface Gathered {
  readonly first: number;
  last: number;
  count: number;
  released: number;
  readonly streamTimeBefore: number;
  streamTimeAfter: number;
}

interface TaskSkips {
  /** When the last line for this task was written, and the inputs its skips named. */
  loggedAt: number;
  names: string;
  gathered: Gathered | undefined;
}

export class MergeSkipLog {
  private readonly tasks = new Map<number, TaskSkips>();

  constructor(
    private readonly log: (line: string) => void,
    private readonly clock: () => number,
  ) {}

  skipped(s: MergeSkip): void {
    const now = this.clock();
    const names = s.inputs.map((i) => i.name).join(', ');
    const t = this.tasks.get(s.partition);
    if (t !== undefined && t.names === names && now - t.loggedAt < SUMMARY_MS) {
      if (t.gathered === undefined) t.gathered = { first: s.number, last: s.number, count: 1, released: s.released, streamTimeBefore: s.streamTimeBefore, streamTimeAfter: s.streamTimeAfter };
      else {
        t.gathered.last = s.number;
        t.gathered.count++;
        t.gathered.released += s.released;
        t.gathered.streamTimeAfter = s.streamTimeAfter;
      }
      return;
    }
    if (t !== undefined) this.writeGathered(s.partition, t);
    const inputs = s.inputs.map((i) => `${i.name} (${i.topic}) caught up at offset ${i.reached} and idle ${Math.round(i.quiet)} ms`).join(', ');
    this.log(
      `skewless: task ${s.partition}: merge skip ${s.number}: ${s.inputs.length === 1 ? 'input' : 'inputs'} ${inputs}; ` +
        `released ${s.released} held records; stream time ${formatEventTime(s.streamTimeBefore)} → ${formatEventTime(s.streamTimeAfter)}`,
    );
    this.tasks.set(s.partition, { loggedAt: now, names, gathered: undefined });
  }

  /** Write the gathered skips of every task whose last line is SUMMARY_MS old (all of them with `all`). */
  flush(all = false): void {
    const now = this.clock();
    for (const [partition, t] of this.tasks) {
      if (t.gathered !== undefined && (all || now - t.loggedAt >= SUMMARY_MS)) {
        this.writeGathered(partition, t);
        t.loggedAt = now;
      }
    }
  }

  private writeGathered(partition: number, t: TaskSkips): void {
    const g = t.gathered;
    if (g === undefined) return;
    t.gathered = undefined;
    const numbers = g.count === 1 ? `merge skip ${g.first}` : `merge skips ${g.first}–${g.last} (${g.count} skips)`;
    this.log(
      `skewless: task ${partition}: ${numbers}: ${t.names.includes(', ') ? 'inputs' : 'input'} ${t.names} still caught up and idle; ` +
        `released ${g.released} held records; stream time ${formatEventTime(g.streamTimeBefore)} → ${formatEventTime(g.streamTimeAfter)}`,
    );
  }
}
