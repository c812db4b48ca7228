/**
 * Per-feature parity result and the alert decision (DESIGN.md, "Parity (online/offline)").
 *
 * For every feature: the row comparison (row-compare.ts) over the paired values, and
 * distribution tests over the non-null values of each side:
 * - numeric features ('float', 'integer'): two-sample KS (ks-test.ts), Jensen–Shannon
 *   divergence and PSI over quantile bins fitted on the offline values (bins.ts);
 * - categorical features ('string', 'boolean'): chi-square homogeneity test (chi-square.ts),
 *   Jensen–Shannon divergence and PSI over the union of categories.
 *
 * Alert (all thresholds configurable, {@link DEFAULT_THRESHOLDS}):
 * 1. more than `alertFeatureFraction` (5 %) of the features have a row mismatch rate above
 *    `featureMismatchRate` (10 %) — rows differing by more than `mismatchTolerance` (10 %
 *    relative) or null on one side only; or
 * 2. any feature fails a distribution test:
 *    - KS: p < `ksPValue` (0.01) AND D > `ksMinStatistic` (0.1);
 *    - chi-square: p < `chiSquarePValue` (0.01) AND Cramér's V > `chiSquareMinCramersV` (0.1);
 *    - Jensen–Shannon divergence > `jensenShannon` (0.1 bits);
 *    - PSI > `psi` (0.2);
 *    where JS and PSI are only judged once both sides have at least `minValuesPerBin` (50)
 *    values per bin on average, i.e. min(n_online, n_offline) ≥ 50 × bins.
 *
 * Why these defaults:
 * - The p-value thresholds are the conventional 1 % level. A p-value alone is not enough: with
 *   the tens of thousands of sampled vectors an hourly run sees, a KS or chi-square test
 *   rejects on differences far too small to matter (D = 0.02 is "significant" at n = 20 000).
 *   The effect-size floors (D > 0.1: a tenth of the probability mass moved; V > 0.1: the usual
 *   "small effect" bound) keep the alert to shifts of the same order as the 10 % row rule. At
 *   small n the p-value is the binding condition (p < 0.01 already needs D ≈ 1.63·√(2/n) > 0.1
 *   for n < 530), so the floor only matters for large samples. Set them to 0 for pure
 *   significance tests.
 * - PSI > 0.2 is the industry rule of thumb for a significant population shift. JS > 0.1 bit is
 *   of similar severity: two histograms that agree on 90 % of their mass and put the other 10 %
 *   in bins the other side leaves empty have JS = 0.1 bit exactly.
 * - JS and PSI are biased upwards by sampling noise: for two samples of the same distribution
 *   E[PSI] ≈ (k − 1)(1/n₁ + 1/n₂) and E[JS] ≈ (k − 1)(1/n₁ + 1/n₂)/(8 ln 2) over k bins, i.e.
 *   PSI ≈ 0.36 for 10 bins and 50 values a side, which would alert on noise. Requiring 50
 *   values per bin keeps E[PSI] ≤ 0.04 and E[JS] ≤ 0.007 under H₀ (10 bins, 500 a side). KS and
 *   chi-square p-values account for n themselves and are always judged.
 *
 * Sample sizes are reported for every test. The report is deterministic: features are sorted
 * by name (UTF-16 code units), nothing depends on input order beyond the row pairing, and no
 * randomness is involved.
 */
import { cdfOverlay, type CdfOverlay } from './empirical-cdf.js';
import { binCategorical, binNumeric, compareCodeUnits, DEFAULT_BIN_COUNT, type Bins } from './bins.js';
import { chiSquareHomogeneity, type ChiSquareResult } from './chi-square.js';
import { jensenShannonDivergence } from './jensen-shannon.js';
import { ksTwoSample, type KsMethod, type KsResult } from './ks-test.js';
import { quantileSorted, sortedCopy } from './numeric.js';
import { populationStabilityIndex, PSI_EPSILON } from './psi.js';
import {
  compareRows,
  DEFAULT_MISMATCH_TOLERANCE,
  inferFeatureType,
  isNullValue,
  type FeatureType,
  type FeatureValue,
  type RowComparison,
} from './row-compare.js';

export interface ParityThresholds {
  /** Relative difference above which a float pair is a mismatch. Default 0.10. */
  readonly mismatchTolerance: number;
  /** A feature "differs" when its row mismatch rate is above this. Default 0.10. */
  readonly featureMismatchRate: number;
  /** Alert when the share of differing features is above this. Default 0.05. */
  readonly alertFeatureFraction: number;
  /** KS fails when p < this (and D > ksMinStatistic). Default 0.01. */
  readonly ksPValue: number;
  /** KS effect-size floor. Default 0.1. */
  readonly ksMinStatistic: number;
  /** Chi-square fails when p < this (and V > chiSquareMinCramersV). Default 0.01. */
  readonly chiSquarePValue: number;
  /** Chi-square effect-size floor (Cramér's V). Default 0.1. */
  readonly chiSquareMinCramersV: number;
  /** Jensen–Shannon divergence (bits) above this fails. Default 0.1. */
  readonly jensenShannon: number;
  /** PSI above this fails. Default 0.2. */
  readonly psi: number;
  /** JS and PSI are judged only with at least this many values per bin on both sides. Default 50. */
  readonly minValuesPerBin: number;
}

export const DEFAULT_THRESHOLDS: ParityThresholds = Object.freeze({
  mismatchTolerance: DEFAULT_MISMATCH_TOLERANCE,
  featureMismatchRate: 0.1,
  alertFeatureFraction: 0.05,
  ksPValue: 0.01,
  ksMinStatistic: 0.1,
  chiSquarePValue: 0.01,
  chiSquareMinCramersV: 0.1,
  jensenShannon: 0.1,
  psi: 0.2,
  minValuesPerBin: 50,
});

export interface ParityOptions {
  readonly thresholds?: Partial<ParityThresholds>;
  /** Quantile bins for numeric features, default 10. */
  readonly binCount?: number;
  /** PSI empty-bin proportion floor, default 1e-4. */
  readonly psiEpsilon?: number;
  /** KS p-value method, default 'auto'. */
  readonly ksMethod?: KsMethod;
}

/** One feature's paired values; `type` is inferred when omitted. */
export interface FeatureInput {
  readonly name: string;
  readonly type?: FeatureType;
  readonly online: readonly FeatureValue[];
  readonly offline: readonly FeatureValue[];
}

export type DistributionTestName = 'ks' | 'chi2' | 'js' | 'psi';

/** The outcome of one distribution test against its threshold(s). */
export interface DistributionCheck {
  readonly test: DistributionTestName;
  /** The compared value: p-value for ks/chi2, divergence for js/psi. */
  readonly value: number;
  /** Effect size compared with its floor (ks: D, chi2: Cramér's V); null for js/psi. */
  readonly effect: number | null;
  readonly threshold: number;
  readonly effectThreshold: number | null;
  /** Whether the result counts towards the alert (JS/PSI need enough values per bin). */
  readonly judged: boolean;
  /** judged and beyond the threshold(s). */
  readonly failed: boolean;
  readonly nOnline: number;
  readonly nOffline: number;
}

/** Quantiles of one side's finite values (NumPy's default linear interpolation). */
export interface ValueQuantiles {
  readonly p5: number;
  readonly p50: number;
  readonly p95: number;
}

export interface BinSummary {
  readonly bins: Bins;
  readonly online: readonly number[];
  readonly offline: readonly number[];
}

export interface FeatureParityResult {
  readonly name: string;
  readonly type: FeatureType;
  readonly rows: RowComparison;
  /** Non-null values per side, the samples of the distribution tests. */
  readonly sampleSizes: { readonly online: number; readonly offline: number };
  /** What the values look like, per side (numeric features; null for a side without finite values). */
  readonly valueQuantiles: { readonly online: ValueQuantiles | null; readonly offline: ValueQuantiles | null } | null;
  readonly ks: KsResult | null;
  readonly chiSquare: ChiSquareResult | null;
  readonly binned: BinSummary | null;
  /** Online and offline empirical CDFs on a shared grid (numeric features with values on both sides). */
  readonly cdf: CdfOverlay | null;
  readonly jensenShannon: number | null;
  readonly psi: number | null;
  /** Distribution checks in the order ks, chi2, js, psi (those that could be computed). */
  readonly checks: readonly DistributionCheck[];
  /** rows.mismatchRate > featureMismatchRate. */
  readonly rowMismatchExceeded: boolean;
  /** Any judged check failed. */
  readonly distributionFailed: boolean;
  /** Why a test could not be computed or judged, e.g. "no online values". */
  readonly notes: readonly string[];
}

export interface ParitySummary {
  readonly featureCount: number;
  /** Features whose row mismatch rate exceeds the threshold, sorted. */
  readonly differingFeatures: readonly string[];
  /** differingFeatures.length / featureCount (0 without features). */
  readonly differingFraction: number;
  /** Features failing a distribution test, sorted. */
  readonly distributionFailures: readonly string[];
}

export interface AlertDecision {
  readonly alert: boolean;
  /** Human-readable reasons, empty when there is no alert. */
  readonly reasons: readonly string[];
  readonly summary: ParitySummary;
}

export interface ParityReport extends AlertDecision {
  readonly thresholds: ParityThresholds;
  readonly binCount: number;
  readonly psiEpsilon: number;
  readonly features: readonly FeatureParityResult[];
}

/** Defaults overlaid with the given thresholds, validated. */
export function resolveThresholds(overrides: Partial<ParityThresholds> = {}): ParityThresholds {
  const t: ParityThresholds = { ...DEFAULT_THRESHOLDS, ...overrides };
  for (const [key, value] of Object.entries(t) as [string, number][]) {
    if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) throw new RangeError(`threshold ${key} must be a finite number >= 0, got ${String(value)}`);
  }
  return t;
}

function numericValues(values: readonly FeatureValue[]): number[] {
  const out: number[] = [];
  for (const v of values) {
    if (isNullValue(v)) continue;
    if (typeof v === 'number') out.push(v);
    else if (typeof v === 'bigint') out.push(Number(v));
  }
  return out;
}

function valueQuantiles(values: readonly number[]): ValueQuantiles | null {
  const sorted = sortedCopy(values.filter(Number.isFinite));
  if (sorted.length === 0) return null;
  return { p5: quantileSorted(sorted, 0.05), p50: quantileSorted(sorted, 0.5), p95: quantileSorted(sorted, 0.95) };
}

function categoryValues(values: readonly FeatureValue[]): string[] {
  const out: string[] = [];
  for (const v of values) if (!isNullValue(v)) out.push(String(v));
  return out;
}

function divergenceChecks(
  online: readonly number[],
  offline: readonly number[],
  nOnline: number,
  nOffline: number,
  thresholds: ParityThresholds,
  psiEpsilon: number,
  notes: string[],
): { js: number; psi: number; checks: DistributionCheck[] } {
  const js = jensenShannonDivergence(online, offline);
  const psi = populationStabilityIndex(online, offline, { epsilon: psiEpsilon });
  const needed = thresholds.minValuesPerBin * online.length;
  const judged = Math.min(nOnline, nOffline) >= needed;
  if (!judged) notes.push(`js/psi not judged: ${Math.min(nOnline, nOffline)} values on the smaller side, ${needed} needed (${thresholds.minValuesPerBin} per bin × ${online.length} bins)`);
  const check = (test: 'js' | 'psi', value: number, threshold: number): DistributionCheck => ({
    test,
    value,
    effect: null,
    threshold,
    effectThreshold: null,
    judged,
    failed: judged && value > threshold,
    nOnline,
    nOffline,
  });
  return { js, psi, checks: [check('js', js, thresholds.jensenShannon), check('psi', psi, thresholds.psi)] };
}

/** Compares one feature: rows, distribution tests and the per-feature verdicts. */
export function compareFeature(input: FeatureInput, options: ParityOptions = {}): FeatureParityResult {
  const thresholds = resolveThresholds(options.thresholds);
  const binCount = options.binCount ?? DEFAULT_BIN_COUNT;
  const psiEpsilon = options.psiEpsilon ?? PSI_EPSILON;
  const type = input.type ?? inferFeatureType(input.online, input.offline);
  const rows = compareRows(input.online, input.offline, { type, tolerance: thresholds.mismatchTolerance });
  const notes: string[] = [];
  const checks: DistributionCheck[] = [];
  let ks: KsResult | null = null;
  let chiSquare: ChiSquareResult | null = null;
  let binned: BinSummary | null = null;
  let cdf: CdfOverlay | null = null;
  let jensenShannon: number | null = null;
  let psi: number | null = null;

  const numeric = type === 'float' || type === 'integer';
  const onlineValues = numeric ? numericValues(input.online) : categoryValues(input.online);
  const offlineValues = numeric ? numericValues(input.offline) : categoryValues(input.offline);
  const nOnline = onlineValues.length;
  const nOffline = offlineValues.length;

  if (nOnline === 0 || nOffline === 0) {
    const missing = nOnline === 0 && nOffline === 0 ? 'either side' : nOnline === 0 ? 'the online side' : 'the offline side';
    notes.push(`distribution tests skipped: no non-null values on ${missing}`);
  } else if (numeric) {
    const a = onlineValues as number[];
    const b = offlineValues as number[];
    ks = ksTwoSample(a, b, { method: options.ksMethod ?? 'auto' });
    cdf = cdfOverlay(a, b);
    checks.push({
      test: 'ks',
      value: ks.pValue,
      effect: ks.statistic,
      threshold: thresholds.ksPValue,
      effectThreshold: thresholds.ksMinStatistic,
      judged: true,
      failed: ks.pValue < thresholds.ksPValue && ks.statistic > thresholds.ksMinStatistic,
      nOnline,
      nOffline,
    });
    const counts = binNumeric(a, b, binCount);
    if (counts === undefined) {
      notes.push('js/psi skipped: no finite offline values to fit bins on');
    } else {
      binned = { bins: counts.bins, online: counts.online, offline: counts.offline };
      const onlineBinned = counts.online.reduce((x, y) => x + y, 0);
      const offlineBinned = counts.offline.reduce((x, y) => x + y, 0);
      const d = divergenceChecks(counts.online, counts.offline, onlineBinned, offlineBinned, thresholds, psiEpsilon, notes);
      jensenShannon = d.js;
      psi = d.psi;
      checks.push(...d.checks);
    }
  } else {
    const counts = binCategorical(onlineValues as string[], offlineValues as string[]);
    binned = { bins: counts.bins, online: counts.online, offline: counts.offline };
    if (counts.bins.kind === 'categorical') {
      chiSquare = chiSquareHomogeneity(counts.online, counts.offline, counts.bins.categories) ?? null;
    }
    if (chiSquare !== null) {
      checks.push({
        test: 'chi2',
        value: chiSquare.pValue,
        effect: chiSquare.cramersV,
        threshold: thresholds.chiSquarePValue,
        effectThreshold: thresholds.chiSquareMinCramersV,
        judged: true,
        failed: chiSquare.pValue < thresholds.chiSquarePValue && chiSquare.cramersV > thresholds.chiSquareMinCramersV,
        nOnline,
        nOffline,
      });
    }
    const d = divergenceChecks(counts.online, counts.offline, nOnline, nOffline, thresholds, psiEpsilon, notes);
    jensenShannon = d.js;
    psi = d.psi;
    checks.push(...d.checks);
  }

  return {
    name: input.name,
    type,
    rows,
    sampleSizes: { online: nOnline, offline: nOffline },
    valueQuantiles: numeric ? { online: valueQuantiles(onlineValues as number[]), offline: valueQuantiles(offlineValues as number[]) } : null,
    ks,
    chiSquare,
    binned,
    cdf,
    jensenShannon,
    psi,
    checks,
    rowMismatchExceeded: rows.mismatchRate > thresholds.featureMismatchRate,
    distributionFailed: checks.some((c) => c.failed),
    notes,
  };
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** The alert rule over per-feature results (see module comment). */
export function decideAlert(features: readonly FeatureParityResult[], overrides: Partial<ParityThresholds> = {}): AlertDecision {
  const thresholds = resolveThresholds(overrides);
  const sorted = [...features].sort((a, b) => compareCodeUnits(a.name, b.name));
  const differing = sorted.filter((f) => f.rows.mismatchRate > thresholds.featureMismatchRate);
  const failing = sorted.filter((f) => f.distributionFailed);
  const featureCount = sorted.length;
  const differingFraction = featureCount === 0 ? 0 : differing.length / featureCount;
  const reasons: string[] = [];
  if (differingFraction > thresholds.alertFeatureFraction) {
    reasons.push(
      `${differing.length} of ${featureCount} features (${percent(differingFraction)}, limit ${percent(thresholds.alertFeatureFraction)}) ` +
        `have more than ${percent(thresholds.featureMismatchRate)} of rows mismatched: ${differing.map((f) => f.name).join(', ')}`,
    );
  }
  for (const f of failing) {
    const failed = f.checks.filter((c) => c.failed).map((c) => {
      const value = c.effect === null ? `${c.value.toPrecision(4)} > ${c.threshold}` : `p=${c.value.toPrecision(4)} < ${c.threshold}, effect ${c.effect.toPrecision(4)} > ${c.effectThreshold}`;
      return `${c.test} (${value}; n=${c.nOnline}/${c.nOffline})`;
    });
    reasons.push(`${f.name}: distribution test failed: ${failed.join('; ')}`);
  }
  return {
    alert: reasons.length > 0,
    reasons,
    summary: {
      featureCount,
      differingFeatures: differing.map((f) => f.name),
      differingFraction,
      distributionFailures: failing.map((f) => f.name),
    },
  };
}

/** Compares every feature and decides the alert. Feature names must be unique. */
export function buildParityReport(inputs: readonly FeatureInput[], options: ParityOptions = {}): ParityReport {
  const thresholds = resolveThresholds(options.thresholds);
  const seen = new Set<string>();
  for (const input of inputs) {
    if (seen.has(input.name)) throw new RangeError(`duplicate feature ${JSON.stringify(input.name)}`);
    seen.add(input.name);
  }
  const sortedInputs = [...inputs].sort((a, b) => compareCodeUnits(a.name, b.name));
  const features = sortedInputs.map((input) => compareFeature(input, { ...options, thresholds }));
  const decision = decideAlert(features, thresholds);
  return {
    ...decision,
    thresholds,
    binCount: options.binCount ?? DEFAULT_BIN_COUNT,
    psiEpsilon: options.psiEpsilon ?? PSI_EPSILON,
    features,
  };
}
