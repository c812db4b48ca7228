/**
 * The contract between windows and aggregations: the running state a window keeps per
 * aggregation and how it makes and restores it. The lookback, tiled and windowed aggregations
 * drive accumulators through it; ops/ implements it (its AggregationDef extends
 * AccumulatorFactory), so time/ needs nothing from ops/.
 */
import type { ByteReader, ByteWriter } from '../state/codec.js';

/** A value fed to an aggregation: what a value function returned, normalised. */
export type AggValue = number | string | null;

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
}

/** How a window makes the accumulators of one aggregation, and restores them from a checkpoint. */
export interface AccumulatorFactory {
  readonly removal: 'invertible' | 'front';
  create(): Accumulator;
  decode(r: ByteReader): Accumulator;
}
