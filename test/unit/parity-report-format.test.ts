/**
 * How the parity reports write numbers and bins (src/parity/report-format.ts, bins.ts
 * numericBinRanges). Expected bins are worked out by hand from NumPy's linear quantiles
 * (h = (n − 1)q, see the comments) and bins.ts's documented cut rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitNumericBins, numericBinRanges } from '../../src/parity/bins.js';
import { nextDown } from '../../src/parity/numeric.js';
import { binLabels, formatDistinct, formatNumber, formatSigned, formatValuePair } from '../../src/parity/report-format.js';

const repeat = (v: number, n: number): number[] => Array.from({ length: n }, () => v);

/** 30 zeros, 30 ones, ten each of 2, 3, 5 and 8. */
const INTEGERS = [...repeat(0, 30), ...repeat(1, 30), ...repeat(2, 10), ...repeat(3, 10), ...repeat(5, 10), ...repeat(8, 10)];
/** 40 zeros, then 1 … 60. */
const ZERO_INFLATED = [...repeat(0, 40), ...Array.from({ length: 60 }, (_, i) => i + 1)];

test('integer bins are labelled with the integers they hold', () => {
  // n = 100, deciles at h = 99q: 0, 0, 0, 0.7 (29.7: 0→1), 1, 1, 1.4 (59.4), 2.3 (69.3), 3.4 (79.2), 5.3 (89.1), 8.
  // Cuts: a mass at 0 (nextDown(0), 0), 0.7, a mass at 1 (nextDown(1), 1), 1.4, 2.3, 3.4, 5.3; the max 8 is no cut.
  const bins = fitNumericBins(INTEGERS)!;
  const expected = [nextDown(0), 0, 0.7, nextDown(1), 1, 1.4, 2.3, 3.4, 5.3];
  assert.equal(bins.cuts.length, expected.length);
  // The interpolated cuts are 0.7 etc. up to rounding (h = 99q is not exact); the point-mass pairs are exact.
  bins.cuts.forEach((c, i) => assert.ok([0, 1, 3, 4].includes(i) ? c === expected[i] : Math.abs(c - expected[i]) < 1e-12, `cut ${i}: ${c}`));
  assert.deepEqual(
    binLabels(bins, 'integer').map((l) => l.short),
    // (−∞, 0) holds ≤ −1; {0}; (0, 0.7] and (0.7, 1) and (1, 1.4] hold no integer; {1}; (1.4, 2.3] = {2}; (2.3, 3.4] = {3}; (3.4, 5.3] = {4, 5}; (5.3, ∞) ≥ 6.
    ['≤ -1', '0', 'none', 'none', '1', 'none', '2', '3', '4–5', '≥ 6'],
  );
  assert.equal(binLabels(bins, 'integer')[8].exact, '4 to 5');
});

test('no nextDown edge reaches a label: a mass at 0 reads "< 0" and "0", not −4.94e−324', () => {
  // n = 100, deciles: 0, 0, 0, 0, 0.6 (39.6: 0→1), 10.5, 20.4, 30.3, 40.2, 50.1, 60.
  const bins = fitNumericBins(ZERO_INFLATED)!;
  assert.equal(bins.cuts[0], -Number.MIN_VALUE, 'the cut itself stays: the statistics use it');
  const ranges = numericBinRanges(bins);
  assert.deepEqual(ranges.slice(0, 3), [
    { lo: -Infinity, hi: 0, loInclusive: false, hiInclusive: false },
    { lo: 0, hi: 0, loInclusive: true, hiInclusive: true },
    { lo: 0, hi: bins.cuts[2], loInclusive: false, hiInclusive: true },
  ]);
  for (const r of ranges) for (const edge of [r.lo, r.hi]) assert.ok(!Number.isFinite(edge) || edge === 0 || Math.abs(edge) >= 0.5, `edge ${edge}`);
  const labels = binLabels(bins, 'float');
  assert.deepEqual(
    labels.map((l) => l.short),
    ['< 0', '0', '0–0.6', '0.6–10.5', '10.5–20.4', '20.4–30.3', '30.3–40.2', '40.2–50.1', '> 50.1'],
  );
  assert.deepEqual(labels.slice(0, 3).map((l) => l.exact), ['(−∞, 0)', '= 0', `(0, ${bins.cuts[2]}]`]);
  assert.doesNotMatch(JSON.stringify(labels), /e-3\d\d/);
  // Each bin's range is the set its cuts define: check the values around every edge.
  for (const v of [-1, -Number.MIN_VALUE, 0, Number.MIN_VALUE, 0.6, 10.5, 50.1, 51]) {
    const inRange = ranges.findIndex((r) => (v > r.lo || (r.loInclusive && v === r.lo)) && (v < r.hi || (r.hiInclusive && v === r.hi)));
    const byCuts = bins.cuts.filter((c) => c < v).length;
    assert.equal(inRange, byCuts, `value ${v}`);
  }
});

test('float edges get the digits that keep them apart', () => {
  const bins = { kind: 'numeric' as const, cuts: [1.00001, 1.00002, 2], count: 4, requested: 3 };
  assert.deepEqual(binLabels(bins, 'float').map((l) => l.short), ['≤ 1.00001', '1.00001–1.00002', '1.00002–2', '> 2']);
  assert.deepEqual(formatDistinct([5.6, 5.6000001]), ['5.6', '5.6000001']);
});

test('numbers: separators, significant digits, exponents at the extremes, signs', () => {
  assert.equal(formatNumber(5_272_000), '5,272,000');
  assert.equal(formatNumber(77.49666666666667), '77.5');
  assert.equal(formatNumber(-0.93761), '-0.9376');
  assert.equal(formatNumber(2.052e-77), '2.052e-77');
  assert.equal(formatNumber(0.000123), '1.23e-4');
  assert.equal(formatNumber(3e12), '3e12');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(-Infinity), '-∞');
  assert.equal(formatSigned(3.5), '+3.5');
  assert.equal(formatSigned(-1), '-1');
  assert.equal(formatSigned(0), '0');
  assert.deepEqual(formatValuePair(19.267500000000002, 22.166666666666668, 'float'), ['19.27', '22.17']);
  assert.deepEqual(formatValuePair(1234567, 1234568, 'integer'), ['1,234,567', '1,234,568']);
  assert.deepEqual(formatValuePair(5.48, null, 'float'), ['5.48', 'null']);
  assert.deepEqual(formatValuePair('visa', 'amex', 'string'), ['visa', 'amex']);
});
