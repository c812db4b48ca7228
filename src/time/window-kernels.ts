import type { Accumulator, AggValue } from './accumulator.js';
import type { LookbackWindowSpec } from './lookback-window.js';

/**
 * Per-window straight-line code for the hot path. A loop `accs[a].add(...)` over mixed
 * aggregation classes is one megamorphic call site; generating one function per window with
 * one call site per aggregation keeps every site monomorphic (about 2x faster here). The
 * generated code is a pure function of the window spec: same spec, same behaviour. An event's
 * time and sequence are read inside the kernel from the timeline's typed arrays: passed as
 * arguments, each call boxed the time (epoch milliseconds are no small integer), a heap number
 * per window and event that no aggregation but last() and the ordered ones even reads.
 */
export interface WindowKernels {
  /** Add the event at position i of the timeline (its time and sequence read from `times` and `seqs`). */
  add(accs: Accumulator[], vals: readonly AggValue[], i: number, times: Float64Array, seqs: Float64Array): void;
  /** Remove event i of the timeline (its time and sequence read from `times` and `seqs`). */
  remove(accs: Accumulator[], cols: readonly AggValue[][], i: number, times: Float64Array, seqs: Float64Array): void;
  read(accs: Accumulator[], out: AggValue[]): void;
  /** Add events [from, to) of the timeline, in order, to every accumulator (readAt's folds). */
  fold(accs: Accumulator[], cols: readonly AggValue[][], from: number, to: number, times: Float64Array, seqs: Float64Array): void;
  /** Merge each of `other` into the accumulator of the same aggregation (readAt's tiles). */
  merge(accs: Accumulator[], other: readonly Accumulator[]): void;
}

const cache = new WeakMap<LookbackWindowSpec, WindowKernels>();

export function windowKernels(spec: LookbackWindowSpec): WindowKernels {
  let k = cache.get(spec);
  if (k) return k;
  const adds: string[] = [];
  const removes: string[] = [];
  const reads: string[] = [];
  const folds: string[] = [];
  const merges: string[] = [];
  spec.aggs.forEach((slot, a) => {
    if (!Number.isInteger(slot.column) || !Number.isInteger(slot.out)) throw new Error('window kernel: bad slot');
    const v = slot.column < 0 ? 'null' : `vals[${slot.column}]`;
    const c = slot.column < 0 ? 'null' : `cols[${slot.column}][i]`;
    adds.push(`accs[${a}].add(${v}, t, seq);`);
    removes.push(`accs[${a}].remove(${c}, t, seq);`);
    reads.push(`out[${slot.out}] = accs[${a}].result();`);
    folds.push(`accs[${a}].add(${c}, t, seq);`);
    merges.push(`accs[${a}].merge(other[${a}]);`);
  });
  k = {
    add: new Function('accs', 'vals', 'i', 'times', 'seqs', `const t = times[i], seq = seqs[i];\n${adds.join('\n')}`) as WindowKernels['add'],
    remove: new Function('accs', 'cols', 'i', 'times', 'seqs', `const t = times[i], seq = seqs[i];\n${removes.join('\n')}`) as WindowKernels['remove'],
    read: new Function('accs', 'out', reads.join('\n')) as WindowKernels['read'],
    // Each accumulator sees the same adds in the same order as a loop per aggregation would give it.
    fold: new Function('accs', 'cols', 'from', 'to', 'times', 'seqs', `for (let i = from; i < to; i++) {\nconst t = times[i], seq = seqs[i];\n${folds.join('\n')}\n}`) as WindowKernels['fold'],
    merge: new Function('accs', 'other', merges.join('\n')) as WindowKernels['merge'],
  };
  cache.set(spec, k);
  return k;
}
