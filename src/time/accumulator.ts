/**
 * The contract between windows and aggregations: the running state a window keeps per
 * aggregation and how it makes and restores it. The lookback, tiled and windowed aggregations
 * drive accumulators through it; ops/ implements it (its AggregationDef extends
 * AccumulatorFactory), so time/ needs nothing from ops/.
 */
import type { ByteReader, ByteWriter } from '../state/codec.js';

/**
 * One event's input to a bucketed aggregation (countBy, sumBy, meanBy): its category and its
 * number (null when it has none, or for countBy without a value). A class, so that event
 * columns, state and regroup codecs tell it apart from a map at run time.
 */
export class Categorized {
  constructor(
    readonly category: string,
    readonly value: number | null,
  ) {}
}

/** A value fed to an aggregation (what a value function returned, normalised): never a list or map. */
export type ScalarValue = number | string | null | Categorized;

/**
 * A map result: bucket → count (histogram, countBy) or → sum / mean (sumBy, meanBy; null for
 * the mean of an empty bucket), keys in the aggregation's canonical order.
 */
export type MapValue = Readonly<Record<string, number | null>>;

/** What an aggregation returns: a scalar, a list (top k, last k, quantiles...) or a map. */
export type AggValue = ScalarValue | readonly number[] | readonly string[] | MapValue;

/**
 * Running state of one aggregation. Mutable on purpose: the hot path updates millions of
 * these per second and allocation per update would dominate.
 */
export interface Accumulator {
  add(v: AggValue, t: number, seq: number): void;
  /**
   * Undo an add. For `removal: 'invertible'` any previously added element may be removed;
   * for `removal: 'front'` only the oldest one in (time, seq) order, and adds come in order.
   */
  remove(v: AggValue, t: number, seq: number): void;
  /** Fold another accumulator of the same definition into this one (session merges). */
  merge(other: Accumulator): void;
  result(): AggValue;
  encode(w: ByteWriter): void;
  /**
   * Back to the state create() makes, bit for bit, so that a read can reuse one set of
   * accumulators instead of making a set per read. Only where result() is a number or null: a
   * list or map handed out must not change when its accumulator is reused.
   */
  reset?(): void;
}

/** How a window makes the accumulators of one aggregation, and restores them from a checkpoint. */
export interface AccumulatorFactory {
  readonly removal: 'invertible' | 'front';
  /**
   * True when the result follows from the events held, not from the order they were folded
   * in. A lookback window then stores nothing of the running accumulator in its head and
   * rebuilds it from its buffered events on restore, so a key's changelog stays one entry per
   * event however large the aggregate is (sorted values, first values, distinct sets).
   */
  readonly rebuildable?: boolean;
  create(): Accumulator;
  /**
   * An accumulator that will see removals (a lookback window's running aggregate). Aggregates
   * that keep less when only added to (k values, one first event, a sketch past its exact
   * bound) could not undo a removal, so they keep what the window holds here, where its buffer
   * holds the events anyway. Default: create().
   */
  createSliding?(): Accumulator;
  decode(r: ByteReader): Accumulator;
  /**
   * Restore a sliding accumulator from its encoding plus the values of the events it holds
   * (from the window's buffer, in (time, sequence) order), for accumulators that keep those
   * values beside a fold-order dependent state. Default: decode().
   */
  decodeSliding?(r: ByteReader, values: readonly AggValue[]): Accumulator;
}
