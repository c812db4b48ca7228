/**
 * What bootstrap keeps of a regrouped replay's pass 2 (replay-regrouped.ts): each regroup
 * partition's RegroupedTask state as a live worker would hold it had it processed the history
 * itself, written into task r's store under r<r>/ (task-state-keys.ts), beside origin task r's
 * state. The live worker treats it like the rest of that store: with an empty changelog it is
 * used as is and published with the first commit (task-store.ts, task-commit.ts).
 *
 * The checkpoint is taken after every message the origin tasks sent for the history and each
 * one's real final watermark, but before replay's end-of-input watermarks (+Infinity): those
 * release everything and move the frontier past any time, so live events within grace would
 * then be applied out of order. Held UPDATES stay in it, to be applied live once the watermarks
 * pass them; held QUERIES do not, since their rows are history, written as training data and
 * held by no live assembler (RegroupedTask.takeHeldQueries). Pass 2 then continues with those
 * queries and the end-of-input watermarks, so the training output is the one of any replay.
 * Checkpoints pass 2 takes before it to keep its keys within memory store no held query
 * (RegroupedTask.changes(false)), so they are all still in memory to take here.
 */
import type { InputRange } from '../engine/input.js';
import type { Program } from '../engine/program.js';
import type { RegroupMessage } from '../engine/regroup-messages.js';
import type { RegroupedTask } from '../engine/regrouped-task.js';
import { LevelBackend } from '../state/state-backend.js';
import { taskStateDir } from '../state/task-state-dir.js';

/** Where regrouped state is kept, and what is needed to write it. Plain data for worker threads. */
export interface RegroupStateTarget {
  /** State root: regroup partition r goes into the store of task r. */
  readonly stateDir: string;
  /** The input ranges pass 1 read: where each origin's input starts. */
  readonly inputRanges: readonly InputRange[];
}

/** An upstream that will send nothing more: its watermark +Infinity. */
export const endOfUpstream = (upstream: number): RegroupMessage => ({ kind: 'watermark', upstream, watermark: Infinity });

export class RegroupHandover {
  /** End-of-input watermarks held back until the checkpoint. */
  private readonly deferred: RegroupMessage[] = [];

  private constructor(
    private readonly program: Program,
    private readonly target: RegroupStateTarget,
    /** Task r's store, which the regrouped task works on. */
    readonly backend: LevelBackend,
  ) {}

  static async open(program: Program, target: RegroupStateTarget, r: number): Promise<RegroupHandover> {
    return new RegroupHandover(program, target, await LevelBackend.open(taskStateDir(target.stateDir, r)));
  }

  /**
   * What the task receives when upstream `p`'s messages are all read, `watermark` being the last
   * it sent. One that sent a watermark ends after the checkpoint. One that never did (its task
   * applied no event) would hold everything back until the end; it is idle instead, at the start
   * of its input: nothing is held for it, and live waits for it again as soon as its input holds
   * a record, until its task sends a watermark or declares itself idle (RegroupedTask.receive).
   */
  ended(p: number, watermark: number): RegroupMessage[] {
    this.deferred.push(endOfUpstream(p));
    if (watermark > -Infinity) return [];
    const start = (source: string): number => this.target.inputRanges.find((x) => x.source === source && x.partition === p)?.firstOffset ?? 0;
    return [{ kind: 'idle', upstream: p, positions: this.program.sources.map((s) => start(s.node.name)) }];
  }

  /** Checkpoint `task` as of the end of the history; returns what pass 2 continues with: the held queries, then every end of input. */
  async checkpoint(task: RegroupedTask): Promise<RegroupMessage[]> {
    const queries = task.takeHeldQueries();
    await task.checkpoint();
    return [...queries, ...this.deferred];
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}
