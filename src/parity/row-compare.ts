/**
 * Row-level comparison of paired feature values: element i of `online` and element i of
 * `offline` are the same feature of the same record (same topic, partition, offset), computed
 * live and recomputed by replay.
 *
 * Definitions (all counts are over pairs):
 * - null: `null`, `undefined` or NaN. `total = bothNull + onlineOnlyNull + offlineOnlyNull + bothPresent`.
 * - value mismatch (both present):
 *   - 'float': relative difference |a − b| / max(|a|, |b|) strictly above `tolerance`
 *     (default 0.10); equal values (including two zeros, +0 and −0, or equal infinities) have
 *     relative difference 0; an infinity against anything else has relative difference +∞.
 *   - 'integer', 'string', 'boolean': exact equality (integers compared exactly, as bigint
 *     where needed). Values of a different JavaScript type than the other side always mismatch.
 * - `mismatchedRows = valueMismatches + onlineOnlyNull + offlineOnlyNull`: every row where the
 *   two paths disagree, a null on one side included; `mismatchRate = mismatchedRows / total`
 *   (0 when there are no rows). This is the rate the alert rule compares with 10 %.
 * - SMAPE (numeric types): mean over pairs with both values finite of
 *   |a − b| / ((|a| + |b|) / 2), with 0/0 := 0 (two zeros agree perfectly), as a fraction in
 *   [0, 2] (not a percentage). 0 = identical, 2 = one side zero and the other not, or signs
 *   opposite. Null when no such pair exists.
 * - difference quantiles (numeric types): p1, p5, p50, p95, p99 of online − offline over the
 *   same pairs, with linear interpolation between order statistics (NumPy's default
 *   `method='linear'`, Hyndman–Fan type 7): for sorted d₀ … d_{m−1} and level q, h = (m − 1)q,
 *   result d_⌊h⌋ + (h − ⌊h⌋)(d_⌊h⌋+1 − d_⌊h⌋).
 *
 * Deterministic: counts do not depend on order; the differences are sorted before quantiles;
 * the SMAPE mean uses a compensated sum.
 */
import { NeumaierSum, quantileSorted, sortedCopy } from './numeric.js';

/** A feature value as the engine emits it (labels may be boolean; int64 may arrive as bigint). */
export type FeatureValue = number | bigint | string | boolean | null | undefined;

/** How values are compared and which distribution tests apply. */
export type FeatureType = 'float' | 'integer' | 'string' | 'boolean';

export const DEFAULT_MISMATCH_TOLERANCE = 0.1;

/** The reported quantile levels of online − offline. */
export const DIFFERENCE_QUANTILE_LEVELS = { p1: 0.01, p5: 0.05, p50: 0.5, p95: 0.95, p99: 0.99 } as const;

export interface DifferenceQuantiles {
  readonly p1: number;
  readonly p5: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

export interface RowComparison {
  readonly total: number;
  readonly bothNull: number;
  readonly onlineOnlyNull: number;
  readonly offlineOnlyNull: number;
  readonly bothPresent: number;
  /** Pairs with both values present that differ (see module comment). */
  readonly valueMismatches: number;
  /** valueMismatches + onlineOnlyNull + offlineOnlyNull. */
  readonly mismatchedRows: number;
  /** mismatchedRows / total, 0 for no rows. */
  readonly mismatchRate: number;
  /** Mean symmetric absolute percentage error as a fraction in [0, 2]; null if not numeric or no pair. */
  readonly smape: number | null;
  /** Pairs with both values finite numbers: the population of SMAPE and the difference quantiles. */
  readonly numericPairs: number;
  /** Quantiles of online − offline; null if not numeric or no pair. */
  readonly differenceQuantiles: DifferenceQuantiles | null;
}

export interface RowCompareOptions {
  /** Value type; inferred from the values when omitted (see {@link inferFeatureType}). */
  readonly type?: FeatureType;
  /** Relative-difference tolerance for 'float' features, default 0.10. */
  readonly tolerance?: number;
}

/** null, undefined and NaN are all "no value". */
export function isNullValue(value: FeatureValue): value is null | undefined {
  return value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value));
}

/**
 * Type of a feature from its values: any string → 'string'; else any boolean → 'boolean';
 * else any bigint → 'integer'; else 'float' (a number column is compared with tolerance unless
 * declared 'integer'). All-null columns are 'float'.
 */
export function inferFeatureType(...columns: readonly (readonly FeatureValue[])[]): FeatureType {
  let sawBoolean = false;
  let sawBigint = false;
  for (const column of columns) {
    for (const v of column) {
      if (typeof v === 'string') return 'string';
      if (typeof v === 'boolean') sawBoolean = true;
      else if (typeof v === 'bigint') sawBigint = true;
    }
  }
  if (sawBoolean) return 'boolean';
  if (sawBigint) return 'integer';
  return 'float';
}

/** |a − b| / max(|a|, |b|); 0 when a === b (so two zeros are equal); +∞ if an infinity differs. */
export function relativeDifference(a: number, b: number): number {
  if (a === b) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

function isNumeric(v: FeatureValue): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

function exactNumericEqual(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  const x = typeof a === 'bigint' ? a : Number.isInteger(a) ? BigInt(a) : undefined;
  const y = typeof b === 'bigint' ? b : Number.isInteger(b) ? BigInt(b) : undefined;
  return x !== undefined && y !== undefined && x === y;
}

/** Whether two present (non-null) values agree under the feature type's rule. */
export function valuesAgree(online: NonNullable<FeatureValue>, offline: NonNullable<FeatureValue>, type: FeatureType, tolerance: number = DEFAULT_MISMATCH_TOLERANCE): boolean {
  switch (type) {
    case 'float':
      if (!isNumeric(online) || !isNumeric(offline)) return typeof online === typeof offline && online === offline;
      return relativeDifference(Number(online), Number(offline)) <= tolerance;
    case 'integer':
      if (!isNumeric(online) || !isNumeric(offline)) return typeof online === typeof offline && online === offline;
      return exactNumericEqual(online, offline);
    case 'string':
    case 'boolean':
      return typeof online === typeof offline && online === offline;
  }
}

/** Symmetric absolute percentage error of one pair: |a − b| / ((|a| + |b|)/2), 0/0 := 0. */
export function pairSmape(a: number, b: number): number {
  const denominator = (Math.abs(a) + Math.abs(b)) / 2;
  if (denominator === 0) return 0;
  return Math.abs(a - b) / denominator;
}

/** Quantiles (numpy 'linear') of a sample at the reported levels; null for an empty sample. */
export function differenceQuantiles(differences: readonly number[]): DifferenceQuantiles | null {
  if (differences.length === 0) return null;
  const sorted = sortedCopy(differences);
  const L = DIFFERENCE_QUANTILE_LEVELS;
  return {
    p1: quantileSorted(sorted, L.p1),
    p5: quantileSorted(sorted, L.p5),
    p50: quantileSorted(sorted, L.p50),
    p95: quantileSorted(sorted, L.p95),
    p99: quantileSorted(sorted, L.p99),
  };
}

/** Compares paired online/offline values of one feature. Both arrays must have the same length. */
export function compareRows(online: readonly FeatureValue[], offline: readonly FeatureValue[], options: RowCompareOptions = {}): RowComparison {
  if (online.length !== offline.length) throw new RangeError(`online and offline must be paired: ${online.length} vs ${offline.length} values`);
  const tolerance = options.tolerance ?? DEFAULT_MISMATCH_TOLERANCE;
  if (!(tolerance >= 0)) throw new RangeError(`tolerance must be >= 0, got ${tolerance}`);
  const type = options.type ?? inferFeatureType(online, offline);
  const numericType = type === 'float' || type === 'integer';

  let bothNull = 0;
  let onlineOnlyNull = 0;
  let offlineOnlyNull = 0;
  let bothPresent = 0;
  let valueMismatches = 0;
  const smape = new NeumaierSum();
  const differences: number[] = [];
  for (let i = 0; i < online.length; i++) {
    const a = online[i];
    const b = offline[i];
    const aNull = isNullValue(a);
    const bNull = isNullValue(b);
    if (aNull && bNull) {
      bothNull++;
      continue;
    }
    if (aNull) {
      onlineOnlyNull++;
      continue;
    }
    if (bNull) {
      offlineOnlyNull++;
      continue;
    }
    bothPresent++;
    if (!valuesAgree(a, b, type, tolerance)) valueMismatches++;
    if (numericType && isNumeric(a) && isNumeric(b)) {
      const x = Number(a);
      const y = Number(b);
      if (Number.isFinite(x) && Number.isFinite(y)) {
        smape.add(pairSmape(x, y));
        differences.push(x - y);
      }
    }
  }
  const total = online.length;
  const mismatchedRows = valueMismatches + onlineOnlyNull + offlineOnlyNull;
  const numericPairs = differences.length;
  return {
    total,
    bothNull,
    onlineOnlyNull,
    offlineOnlyNull,
    bothPresent,
    valueMismatches,
    mismatchedRows,
    mismatchRate: total === 0 ? 0 : mismatchedRows / total,
    smape: numericType && numericPairs > 0 ? smape.value / numericPairs : null,
    numericPairs,
    differenceQuantiles: numericType ? differenceQuantiles(differences) : null,
  };
}
