/**
 * The gap rule at the driver: a task only processes the input offset right after the one its
 * state reflects. A fetch that starts beyond it (e.g. a group offset ahead of this task's state)
 * is moved back; the same seek coming back for a while means the broker no longer has those
 * offsets, and the worker stops naming both positions instead of computing from a gap.
 */
import { InputGapError } from '../../engine/task.js';
import type { ConsumedBatch } from './live-cluster.js';
import type { LiveTask } from './live-task.js';

export type PositionDecision = { readonly kind: 'process' } | { readonly kind: 'seek'; readonly offset: number } | { readonly kind: 'stop'; readonly error: Error };

/** `need`: the offset of batch.topic the task's state needs next; `source` names that input in errors. */
export function checkInputPosition(lt: LiveTask, batch: ConsumedBatch, source: string, need: number, now: number): PositionDecision {
  if (batch.fetchedOffset <= need) {
    lt.seeks.delete(batch.topic);
    return { kind: 'process' };
  }
  const prev = lt.seeks.get(batch.topic);
  const again = prev?.offset === need;
  const count = again ? prev.count + 1 : 1;
  const since = again ? prev.since : now;
  lt.seeks.set(batch.topic, { offset: need, count, since });
  // A batch or two fetched before the seek took effect can still arrive: only a position that
  // keeps coming back for a while means the broker no longer has the offsets.
  if (count > 5 && now - since > 5000) {
    return {
      kind: 'stop',
      error: new Error(
        `${new InputGapError(lt.partition, source, need, batch.fetchedOffset).message}. The input offsets the state needs are no longer in ${batch.topic} ` +
          '(retention?): rebuild the state with skewless bootstrap into a new --state and --group.',
      ),
    };
  }
  return { kind: 'seek', offset: need };
}
