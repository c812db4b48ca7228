import type { ColumnType } from '../dsl/nodes.js';
import { Categorized, type AccumulatorFactory, type ScalarValue } from '../time/accumulator.js';

// The value and accumulator contract lives with the windows that keep accumulators (time/), the
// column types with the DSL that declares them; aggregation code imports all of them from here.
export type { ColumnType } from '../dsl/nodes.js';
export type { Accumulator, AggValue, MapValue, ScalarValue } from '../time/accumulator.js';
export { Categorized } from '../time/accumulator.js';

/** An aggregation: how to make its accumulators, plus what identifies it in plans and outputs. */
export interface AggregationDef extends AccumulatorFactory {
  readonly kind: string;
  /** Semantic version of the operator code: bump when results for the same input change. */
  readonly semver: number;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  readonly resultType: ColumnType;
  /** False for count(): it counts events, not values. */
  readonly needsValue: boolean;
}

/**
 * Normalise what a user value function returned: NaN, undefined and non-finite become null. A
 * bucketed aggregation's column (ops/aggregations/bucketed.ts) has normalised its pair already.
 */
export function toAggValue(v: unknown): ScalarValue {
  if (v === null || v === undefined) return null;
  if (v instanceof Categorized) return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.getTime();
  return String(v);
}
