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
}

const cache = new WeakMap<LookbackWindowSpec, WindowKernels>();

export function windowKernels(spec: LookbackWindowSpec): WindowKernels {
  let k = cache.get(spec);
  if (k) return k;
  const adds: string[] = [];
  const removes: string[] = [];
  const reads: string[] = [];
  spec.aggs.forEach((slot, a) => {
    if (!Number.isInteger(slot.column) || !Number.isInteger(slot.out)) throw new Error('window kernel: bad slot');
    const v = slot.column < 0 ? 'null' : `vals[${slot.column}]`;
    const c = slot.column < 0 ? 'null' : `cols[${slot.column}][i]`;
    adds.push(`accs[${a}].add(${v}, t, seq);`);
    removes.push(`accs[${a}].remove(${c}, t, seq);`);
    reads.push(`out[${slot.out}] = accs[${a}].result();`);
  });
  k = {
    add: new Function('accs', 'vals', 'i', 'times', 'seqs', `const t = times[i], seq = seqs[i];\n${adds.join('\n')}`) as WindowKernels['add'],
    remove: new Function('accs', 'cols', 'i', 'times', 'seqs', `const t = times[i], seq = seqs[i];\n${removes.join('\n')}`) as WindowKernels['remove'],
    read: new Function('accs', 'out', reads.join('\n')) as WindowKernels['read'],
  };
  cache.set(spec, k);
  return k;
}
