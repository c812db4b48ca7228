/**
 * How a timeline's buffered events are stored: one entry per checkpoint that added events to
 * the key (a segment), not one per event. A checkpoint of a batch in which a key got k events
 * writes one segment holding those k events; a segment is deleted once every event in it has
 * left the window. Live, each store entry is a changelog record, so this bounds the changelog
 * by the keys a batch touches rather than by its events (a put per event and, later, a delete
 * per event made the changelog the bulk of a live commit).
 *
 * A segment is named by its first event (time, sequence), so names never repeat; its events
 * are in the timeline's (time, sequence) order. Segments of one key may overlap in time (an
 * event accepted behind the clock lands in the newest segment), so a load merges them.
 */
import type { ByteReader, ByteWriter } from '../state/codec.js';
import { Categorized, type AggValue, type ScalarValue } from './accumulator.js';

/** A stored segment: its name (first event) and its last event, which decides when it goes. */
export interface StoredSegment {
  readonly t: number;
  readonly seq: number;
  readonly lastT: number;
  readonly lastSeq: number;
}

/** (t1, s1) before (t2, s2) in the timeline's order. */
export const eventBefore = (t1: number, s1: number, t2: number, s2: number): boolean => t1 < t2 || (t1 === t2 && s1 < s2);

/** Write the events at `indexes` (ascending (time, sequence)) as one segment value. */
export function encodeSegment(w: ByteWriter, times: ArrayLike<number>, seqs: ArrayLike<number>, cols: ReadonlyArray<readonly AggValue[]>, indexes: readonly number[]): void {
  w.reset();
  w.uint(indexes.length);
  for (const i of indexes) {
    w.f64(times[i]);
    w.uint(seqs[i]);
    for (let c = 0; c < cols.length; c++) writeEventValue(w, cols[c][i]);
  }
}

/**
 * An event column's value in the store: what a value function returned, normalised to a
 * scalar (lists and maps are results only), or a bucketed aggregation's (category, number).
 */
function writeEventValue(w: ByteWriter, v: AggValue): void {
  if (v instanceof Categorized) w.pair(v.category, v.value);
  else w.scalar(typeof v === 'object' && v !== null ? null : v);
}

function readEventValue(r: ByteReader): ScalarValue {
  return r.scalarOrPair((category, value) => new Categorized(category, value));
}

/** One decoded event of a segment; `segment` indexes the caller's segment list. */
export interface SegmentEvent {
  readonly t: number;
  readonly seq: number;
  readonly values: ScalarValue[];
  readonly segment: number;
}

/** The events of a segment value, appended to `into`; throws on a value that does not decode whole. */
export function decodeSegment(r: ByteReader, columns: number, segment: number, into: SegmentEvent[]): void {
  const n = r.uint();
  for (let i = 0; i < n; i++) {
    const t = r.f64();
    const seq = r.uint();
    const values: ScalarValue[] = [];
    for (let c = 0; c < columns; c++) values.push(readEventValue(r));
    into.push({ t, seq, values, segment });
  }
  if (!r.done) throw new Error(`segment holds bytes after its ${n} events`);
}

/** Events of several segments in the timeline's order (segments rarely overlap, so usually already sorted). */
export function mergeSegmentEvents(events: SegmentEvent[]): SegmentEvent[] {
  for (let i = 1; i < events.length; i++) {
    const a = events[i - 1];
    const b = events[i];
    if (!eventBefore(a.t, a.seq, b.t, b.seq)) return events.slice().sort((x, y) => (eventBefore(x.t, x.seq, y.t, y.seq) ? -1 : eventBefore(y.t, y.seq, x.t, x.seq) ? 1 : 0));
  }
  return events;
}
