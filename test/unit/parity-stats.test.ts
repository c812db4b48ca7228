/**
 * Hand-checked values and edge cases of the parity statistics that do not need the Python
 * reference (which parity-reference.test.ts compares against): closed forms, documented
 * conventions, input validation, and values JSON cannot carry (NaN, ±Infinity, bigint).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binCategorical, binNumeric, categoricalBins, fitNumericBins, numericBinIndex } from '../../src/parity/bins.js';
import { chiSquareHomogeneity, chiSquareOfValues } from '../../src/parity/chi-square.js';
import { chiSquareSurvival, regularizedGammaQ } from '../../src/parity/incomplete-gamma.js';
import { jensenShannonDivergence } from '../../src/parity/jensen-shannon.js';
import { ksTwoSample } from '../../src/parity/ks-test.js';
import { compensatedSum, nextDown, quantileSorted, roundHalfEven, sortedCopy } from '../../src/parity/numeric.js';
import { PSI_EPSILON, populationStabilityIndex } from '../../src/parity/psi.js';
import { compareRows, inferFeatureType, pairSmape, relativeDifference, valuesAgree } from '../../src/parity/row-compare.js';

function near(actual: number, expected: number, rel: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), 1e-300), `${label}: expected ${expected}, got ${actual}`);
}

test('KS: closed forms, infinities, and invalid input', () => {
  // Disjoint samples of 3: D = 1, p = 2 / C(6, 3) = 0.1.
  const disjoint = ksTwoSample([1, 2, 3], [4, 5, 6]);
  assert.equal(disjoint.statistic, 1);
  near(disjoint.pValue, 0.1, 1e-15, 'disjoint p');
  assert.equal(disjoint.method, 'exact');
  // ±Infinity are ordinary order statistics (SciPy: D = 0.25, p = 1, location −inf).
  const inf = ksTwoSample([-Infinity, 1, 2, Infinity], [0, 1, 3]);
  assert.equal(inf.statistic, 0.25);
  assert.equal(inf.pValue, 1);
  assert.equal(inf.statisticLocation, -Infinity);
  // The statistic does not depend on input order, and inputs are not mutated.
  const a = [3, 1, 2, 2, 9];
  const b = [2, 8, 7];
  const r1 = ksTwoSample(a, b);
  const r2 = ksTwoSample([...a].reverse(), [...b].reverse());
  assert.deepEqual(r1, r2);
  assert.deepEqual(a, [3, 1, 2, 2, 9]);
  assert.throws(() => ksTwoSample([], [1]), /non-empty/);
  assert.throws(() => ksTwoSample([Number.NaN], [1]), /NaN/);
});

test('chi-square: 2x2 by hand, dof 0, missing side, and the survival function', () => {
  // Expected 15 everywhere: X² = 4·25/15 = 20/3, p = erfc(√(10/3)) = 0.009823274507519235.
  const r = chiSquareHomogeneity([10, 20], [20, 10], ['a', 'b'])!;
  near(r.statistic, 20 / 3, 1e-15, 'X²');
  assert.equal(r.dof, 1);
  near(r.pValue, 0.009823274507519235, 1e-12, 'p');
  near(r.cramersV, Math.sqrt(20 / 3 / 60), 1e-15, 'V');
  assert.equal(r.nOnline, 30);
  assert.equal(r.nOffline, 30);
  const single = chiSquareHomogeneity([3], [4])!;
  assert.deepEqual([single.statistic, single.dof, single.pValue], [0, 0, 1]);
  assert.equal(chiSquareHomogeneity([0, 0], [1, 2]), undefined, 'no online values: undefined');
  const fromValues = chiSquareOfValues(['x', 'y', 'y'], ['y', 'z'])!;
  assert.deepEqual(fromValues.categories, ['x', 'y', 'z']);
  assert.deepEqual(fromValues.online, [1, 2, 0]);
  // χ²₂ survival is e^(−x/2) exactly.
  for (const x of [0.1, 1, 7, 50, 600]) near(chiSquareSurvival(x, 2), Math.exp(-x / 2), 1e-13, `chi2 sf(${x}, 2)`);
  assert.equal(chiSquareSurvival(0, 3), 1);
  near(regularizedGammaQ(1, 3), Math.exp(-3), 1e-14, 'Q(1, 3)');
  assert.throws(() => regularizedGammaQ(0, 1), RangeError);
});

test('Jensen-Shannon divergence: bounds and a hand-computed value (divergence, not scipy distance)', () => {
  assert.equal(jensenShannonDivergence([1, 2, 3], [2, 4, 6]), 0, 'same distribution, different totals');
  assert.equal(jensenShannonDivergence([1, 0], [0, 1]), 1, 'disjoint supports: 1 bit');
  // Agree on 90 %, the other 10 % in disjoint bins: exactly 0.1 bit (scipy distance would be √0.1).
  near(jensenShannonDivergence([0.9, 0.1, 0], [0.9, 0, 0.1]), 0.1, 1e-15, 'JS');
  assert.throws(() => jensenShannonDivergence([0, 0], [1, 1]), /empty/);
  assert.throws(() => jensenShannonDivergence([1], [1, 1]), /bins differ/);
});

test('PSI: epsilon floor on empty bins, symmetry, zero for equal histograms', () => {
  assert.equal(PSI_EPSILON, 1e-4);
  assert.equal(populationStabilityIndex([5, 5], [10, 10]), 0);
  // a = (1, ε), e = (ε, 1): PSI = 2(1 − ε)·ln(1/ε).
  near(populationStabilityIndex([7, 0], [0, 3]), 2 * (1 - 1e-4) * Math.log(1e4), 1e-14, 'disjoint PSI');
  near(populationStabilityIndex([3, 1, 0], [1, 1, 2]), populationStabilityIndex([1, 1, 2], [3, 1, 0]), 1e-15, 'symmetric');
  near(populationStabilityIndex([7, 0], [0, 3], { epsilon: 1e-6 }), 2 * (1 - 1e-6) * Math.log(1e6), 1e-14, 'custom epsilon');
  assert.throws(() => populationStabilityIndex([1], [1], { epsilon: 0 }), /epsilon/);
});

test('numeric bins: quantile cuts, point masses, end bins, ±Infinity', () => {
  const continuous = fitNumericBins(Array.from({ length: 11 }, (_, i) => i), 10)!;
  assert.deepEqual(continuous.cuts, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(continuous.count, 10);
  assert.equal(numericBinIndex(continuous, -5), 0, 'below the reference range: first bin');
  assert.equal(numericBinIndex(continuous, 1), 0, 'bins are right-closed');
  assert.equal(numericBinIndex(continuous, 1.5), 1);
  assert.equal(numericBinIndex(continuous, 1e9), 9, 'above the range: last bin');
  const constant = fitNumericBins([5, 5, 5])!;
  assert.deepEqual(constant.cuts, [nextDown(5), 5], 'constant reference: bins <5, =5, >5');
  // 80 % zeros: the zeros get a bin of their own.
  const zeroInflated = fitNumericBins([...Array<number>(8).fill(0), 3, 9], 10)!;
  assert.equal(numericBinIndex(zeroInflated, 0), 1);
  assert.equal(numericBinIndex(zeroInflated, -1), 0);
  assert.ok(numericBinIndex(zeroInflated, 0.5) > 1);
  const binned = binNumeric([-Infinity, Infinity, Number.NaN, 2], [1, 2, 3, 4, Infinity], 2)!;
  assert.deepEqual(binned.online, [2, 1], 'infinities land in the end bins, NaN is skipped');
  assert.equal(fitNumericBins([Number.NaN, Infinity]), undefined, 'no finite reference value');
  assert.throws(() => fitNumericBins([1, 2], 1), /bin count/);
  assert.deepEqual(categoricalBins(['b', 'a'], ['c', 'a']).categories, ['a', 'b', 'c']);
});

test('categorical bins are capped: the most frequent categories (ties in code-unit order), then one bin for the rest', () => {
  // c00..c09 appear 10..1 times online; d0..d5 once each offline; "a" 3 times on each side.
  const online: string[] = [];
  for (let i = 0; i < 10; i++) for (let n = 0; n < 10 - i; n++) online.push(`c0${i}`);
  const offline = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];
  for (let n = 0; n < 3; n++) {
    online.push('a');
    offline.push('a');
  }
  // 17 distinct values, 5 bins: the 4 most frequent are c00 (10), c01 (9), c02 (8), c03 (7);
  // "a" (6) is next. The other 13 share the last bin.
  const bins = categoricalBins(online, offline, 5);
  assert.deepEqual(bins.categories, ['c00', 'c01', 'c02', 'c03', '(13 other values)']);
  const counted = binCategorical(online, offline, 5);
  assert.deepEqual(counted.online, [10, 9, 8, 7, 6 + 5 + 4 + 3 + 2 + 1 + 3]);
  assert.deepEqual(counted.offline, [0, 0, 0, 0, 9]);
  // Equal counts: code-unit order decides which are kept ("B" < "a" < "b").
  assert.deepEqual(categoricalBins(['b', 'a', 'B', 'z', 'z'], [], 3).categories, ['B', 'z', '(2 other values)']);
  // At or under the cap: every category, as before.
  assert.deepEqual(categoricalBins(online, offline, 17).categories.length, 17);
});

test('numeric helpers: numpy quantiles, half-even rounding, compensated sums', () => {
  const sorted = sortedCopy([4, 1, 3, 2]);
  assert.deepEqual([...sorted], [1, 2, 3, 4]);
  assert.equal(quantileSorted(sorted, 0.5), 2.5);
  assert.equal(quantileSorted(sorted, 1 / 3), 2);
  assert.equal(quantileSorted(sorted, 1), 4);
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
  assert.equal(compensatedSum([1e16, 1, -1e16, 1]), 2, 'naive summation gives 0 or 4');
  assert.equal(nextDown(1), 1 - Number.EPSILON / 2);
});

test('row comparison: tolerance boundary, zeros, nulls (NaN too), infinities, bigint, type drift', () => {
  assert.equal(relativeDifference(0, 0), 0);
  assert.equal(relativeDifference(0, -0), 0);
  assert.equal(relativeDifference(90, 100), 0.1);
  assert.equal(relativeDifference(Infinity, 1), Infinity);
  assert.equal(valuesAgree(90, 100, 'float', 0.1), true, 'exactly at the tolerance is a match');
  assert.equal(valuesAgree(100, 111, 'float', 0.1), true, '11/111 < 0.1: relative to the larger value');
  assert.equal(valuesAgree(100, 112, 'float', 0.1), false);
  assert.equal(valuesAgree(10, 11, 'integer'), false, 'integers compare exactly');
  assert.equal(valuesAgree(2n ** 60n, 2n ** 60n + 1n, 'integer'), false, 'bigint exactly');
  assert.equal(valuesAgree(2n ** 53n, 2 ** 53, 'integer'), true, 'bigint vs number');
  assert.equal(valuesAgree('1', 1, 'string'), false, 'type drift mismatches');
  assert.equal(pairSmape(0, 0), 0, '0/0 := 0');
  assert.equal(pairSmape(0, 5), 2);
  assert.equal(pairSmape(-1, 1), 2);
  assert.equal(pairSmape(100, 110), 10 / 105);

  const r = compareRows([1, Number.NaN, null, undefined, Infinity, Infinity, 4], [1, null, 2, Number.NaN, Infinity, 5, 4.1], { type: 'float' });
  assert.equal(r.total, 7);
  assert.equal(r.bothNull, 2, 'NaN counts as null');
  assert.equal(r.onlineOnlyNull, 1);
  assert.equal(r.offlineOnlyNull, 0);
  assert.equal(r.bothPresent, 4);
  assert.equal(r.valueMismatches, 1, 'Inf vs 5 mismatches; Inf vs Inf matches');
  assert.equal(r.mismatchedRows, 2);
  assert.equal(r.mismatchRate, 2 / 7);
  assert.equal(r.numericPairs, 2, 'infinite pairs are excluded from SMAPE and differences');
  assert.ok(r.differenceQuantiles !== null);
  near(r.differenceQuantiles.p50, -0.05, 1e-12, 'median difference');

  const strings = compareRows(['a', 'b'], ['a', 'c']);
  assert.equal(strings.smape, null, 'no SMAPE for strings');
  assert.equal(strings.differenceQuantiles, null);
  assert.equal(strings.valueMismatches, 1);
  assert.equal(compareRows([], []).mismatchRate, 0);
  assert.throws(() => compareRows([1], []), /paired/);

  assert.equal(inferFeatureType([1, null], [2.5]), 'float');
  assert.equal(inferFeatureType([1n, null], [2]), 'integer');
  assert.equal(inferFeatureType([true, null], [false]), 'boolean');
  assert.equal(inferFeatureType([1, 'a'], []), 'string');
  assert.equal(inferFeatureType([null], [null]), 'float');
});
