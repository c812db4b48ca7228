import type { ByteReader, ByteWriter } from '../state/codec.js';

/** A value fed to an aggregation: what a value function returned, normalised. */
export type AggValue = number | string | null;

/** Column types of feature outputs; they map 1:1 onto Parquet and Avro types. */
export type ColumnType = 'int64' | 'double' | 'string' | 'boolean';

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

export interface AggregationDef {
  readonly kind: string;
  /** Semantic version of the operator code: bump when results for the same input change. */
  readonly semver: number;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  readonly removal: 'invertible' | 'front';
  readonly resultType: ColumnType;
  /** False for count(): it counts events, not values. */
  readonly needsValue: boolean;
  create(): Accumulator;
  decode(r: ByteReader): Accumulator;
}

/** Normalise what a user value function returned: NaN, undefined and non-finite become null. */
export function toAggValue(v: unknown): AggValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.getTime();
  return String(v);
}
