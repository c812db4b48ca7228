import { ByteWriter } from '../state/codec.js';
import type { BatchOp } from '../state/state-backend.js';
import { eventSuffix } from '../state/task-state-keys.js';
import type { KeyTimeline } from '../time/lookback-window.js';

/**
 * A timeline's store operations since the last checkpoint: a deletion per stored segment whose
 * events have all left, one segment with the events applied since, then its head. Origin and regrouped tasks share it, so
 * both changelog the same way.
 */
export function timelineChanges(tl: KeyTimeline, seqBound: number, w: ByteWriter, eventsPrefix: string, headKey: string, ops: BatchOp[]): void {
  tl.drainChanges(
    seqBound,
    w,
    (t, seq, value) => ops.push({ type: 'put', key: eventsPrefix + eventSuffix(t, seq), value }),
    (t, seq) => ops.push({ type: 'del', key: eventsPrefix + eventSuffix(t, seq) }),
  );
  w.reset();
  tl.encodeHead(w);
  tl.dirty = false;
  ops.push({ type: 'put', key: headKey, value: w.bytes() });
}
