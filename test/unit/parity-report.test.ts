/**
 * Per-feature parity results and the alert rule (src/parity/feature-report.ts): which tests run
 * for which feature type, the 5 % / 10 % row rule at its boundary, distribution failures with
 * their effect-size floors and sample-size gates, all-null features, and determinism.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binNumeric } from '../../src/parity/bins.js';
import { buildParityReport, compareFeature, decideAlert, DEFAULT_THRESHOLDS, type FeatureInput } from '../../src/parity/feature-report.js';
import { jensenShannonDivergence } from '../../src/parity/jensen-shannon.js';
import { ksTwoSample } from '../../src/parity/ks-test.js';
import { populationStabilityIndex } from '../../src/parity/psi.js';
import { Rng } from '../helpers/prng.js';

function normals(rng: Rng, n: number, mean = 0, sd = 1): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const u1 = 1 - rng.next();
    const u2 = rng.next();
    out.push(mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
  }
  return out;
}

/** A feature whose online values equal the offline ones. */
function identical(name: string, values: number[]): FeatureInput {
  return { name, type: 'float', online: values, offline: values };
}

/** Same distribution, but every row differs (online is offline reversed). */
function shuffledRows(name: string, values: number[]): FeatureInput {
  return { name, type: 'float', online: [...values].reverse(), offline: values };
}

test('defaults are the documented ones', () => {
  assert.deepEqual(DEFAULT_THRESHOLDS, {
    mismatchTolerance: 0.1,
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
  assert.throws(() => compareFeature(identical('x', [1]), { thresholds: { psi: -1 } }), /psi/);
});

test('numeric feature: KS, JS and PSI over offline quantile bins, sample sizes reported', () => {
  const rng = new Rng(7);
  const offline = normals(rng, 1000);
  const online = offline.map((v, i) => (i % 10 === 0 ? null : v * 1.001));
  const r = compareFeature({ name: 'amount_mean_24h', online, offline });
  assert.equal(r.type, 'float', 'inferred');
  assert.deepEqual(r.sampleSizes, { online: 900, offline: 1000 });
  assert.equal(r.rows.onlineOnlyNull, 100);
  assert.equal(r.rows.valueMismatches, 0, '0.1 % apart is within the 10 % tolerance');
  assert.ok(r.ks && r.ks.n1 === 900 && r.ks.n2 === 1000);
  assert.equal(r.chiSquare, null);
  // The report's numbers are exactly those of the building blocks.
  const a = online.filter((v): v is number => v !== null);
  assert.deepEqual(r.ks, ksTwoSample(a, offline));
  const binned = binNumeric(a, offline)!;
  assert.deepEqual(r.binned?.online, binned.online);
  assert.equal(r.jensenShannon, jensenShannonDivergence(binned.online, binned.offline));
  assert.equal(r.psi, populationStabilityIndex(binned.online, binned.offline));
  assert.deepEqual(r.checks.map((c) => [c.test, c.judged, c.failed, c.nOnline, c.nOffline]), [
    ['ks', true, false, 900, 1000],
    ['js', true, false, 900, 1000],
    ['psi', true, false, 900, 1000],
  ]);
  assert.equal(r.rowMismatchExceeded, false, '10 % of rows null online is not more than 10 %');
  assert.equal(r.distributionFailed, false);
});

test('categorical feature: chi-square, JS and PSI over the union of categories; new category fails', () => {
  const offline = Array.from({ length: 2000 }, (_, i) => ['visa', 'mastercard', 'amex'][i % 3]);
  const online = offline.map((v, i) => (i % 4 === 0 ? 'unionpay' : v));
  const r = compareFeature({ name: 'card_network_last', online, offline });
  assert.equal(r.type, 'string');
  assert.equal(r.ks, null);
  assert.ok(r.chiSquare);
  assert.deepEqual(r.chiSquare.categories, ['amex', 'mastercard', 'unionpay', 'visa']);
  assert.equal(r.chiSquare.dof, 3);
  assert.deepEqual(r.binned?.offline, [666, 667, 0, 667], 'the category missing offline is an empty bin');
  assert.equal(r.rows.mismatchRate, 0.25);
  assert.equal(r.rowMismatchExceeded, true);
  assert.deepEqual(r.checks.filter((c) => c.failed).map((c) => c.test), ['chi2', 'js', 'psi']);
  assert.equal(r.distributionFailed, true);

  const labels = compareFeature({ name: 'is_fraud', online: [true, false, null], offline: [true, true, false] });
  assert.equal(labels.type, 'boolean');
  assert.deepEqual(labels.chiSquare?.categories, ['false', 'true']);
});

test('alert rule: more than 5 % of features with more than 10 % of rows mismatched', () => {
  const rng = new Rng(11);
  const base = normals(rng, 200);
  const features = Array.from({ length: 19 }, (_, i) => identical(`f${String(i).padStart(2, '0')}`, base));
  // One differing feature of 20 is exactly 5 %: not more than 5 %, no alert.
  const oneOf20 = buildParityReport([...features, shuffledRows('shuffled_a', base)]);
  assert.deepEqual(oneOf20.summary.differingFeatures, ['shuffled_a']);
  assert.equal(oneOf20.summary.differingFraction, 0.05);
  assert.deepEqual(oneOf20.summary.distributionFailures, [], 'a row shuffle keeps the distribution');
  assert.equal(oneOf20.alert, false);
  // Two of 21 (9.5 %): alert, naming both.
  const twoOf21 = buildParityReport([...features, shuffledRows('shuffled_a', base), shuffledRows('shuffled_b', base)]);
  assert.equal(twoOf21.alert, true);
  assert.deepEqual(twoOf21.summary.differingFeatures, ['shuffled_a', 'shuffled_b']);
  assert.equal(twoOf21.reasons.length, 1);
  assert.match(twoOf21.reasons[0], /2 of 21 features .* shuffled_a, shuffled_b/);
  // A feature with exactly 10 % of rows mismatched does not count.
  const tenPercent = compareFeature({ name: 'x', online: base.map((v, i) => (i % 10 === 0 ? v + 100 : v)), offline: base });
  assert.equal(tenPercent.rows.mismatchRate, 0.1);
  assert.equal(tenPercent.rowMismatchExceeded, false);
  // The rule also works on precomputed results, with custom thresholds.
  assert.equal(decideAlert(oneOf20.features, { alertFeatureFraction: 0.04 }).alert, true);
  assert.equal(buildParityReport([]).alert, false);
});

test('any failing distribution test alerts on its own; effect-size floors and sample-size gates apply', () => {
  const rng = new Rng(5);
  const offline = normals(rng, 4000);
  const shifted = normals(rng, 4000, 0.6);
  // Unpaired shift: rows differ too, but 1 feature of 100 is under the 5 % row rule.
  const inputs: FeatureInput[] = Array.from({ length: 99 }, (_, i) => identical(`ok_${String(i).padStart(2, '0')}`, offline.slice(0, 100)));
  inputs.push({ name: 'drifted', type: 'float', online: shifted, offline });
  const report = buildParityReport(inputs);
  assert.equal(report.summary.differingFraction, 0.01);
  assert.deepEqual(report.summary.distributionFailures, ['drifted']);
  assert.equal(report.alert, true);
  assert.equal(report.reasons.length, 1);
  assert.match(report.reasons[0], /^drifted: distribution test failed: ks \(p=.* < 0.01, effect .* > 0.1; n=4000\/4000\);.* psi \(.* > 0.2; n=4000\/4000\)$/);

  // Large samples, small shift: KS is "significant" but D is below the 0.1 floor → no failure.
  const big = normals(rng, 20000);
  const bigShift = normals(rng, 20000, 0.06);
  const subtle = compareFeature({ name: 'subtle', type: 'float', online: bigShift, offline: big });
  assert.ok(subtle.ks && subtle.ks.pValue < 0.01 && subtle.ks.statistic < 0.1, `p=${subtle.ks?.pValue} D=${subtle.ks?.statistic}`);
  assert.equal(subtle.ks.method, 'asymp');
  assert.equal(subtle.distributionFailed, false);
  const strict = compareFeature({ name: 'subtle', type: 'float', online: bigShift, offline: big }, { thresholds: { ksMinStatistic: 0 } });
  assert.deepEqual(strict.checks.filter((c) => c.failed).map((c) => c.test), ['ks']);

  // Few values: JS/PSI are computed and reported but not judged; KS still is.
  const small = compareFeature({ name: 'small', type: 'float', online: normals(rng, 30, 0.2), offline: normals(rng, 30) });
  assert.ok(small.psi !== null && small.jensenShannon !== null);
  assert.deepEqual(small.checks.map((c) => [c.test, c.judged]), [['ks', true], ['js', false], ['psi', false]]);
  assert.match(small.notes.join('\n'), /js\/psi not judged: 30 values on the smaller side, \d+ needed/);
});

test('all-null features and one-sided nulls', () => {
  const allNull = compareFeature({ name: 'never_set', online: [null, null, null], offline: [null, null, null] });
  assert.equal(allNull.rows.bothNull, 3);
  assert.equal(allNull.rows.mismatchRate, 0);
  assert.equal(allNull.rows.smape, null);
  assert.equal(allNull.rows.differenceQuantiles, null);
  assert.deepEqual(allNull.sampleSizes, { online: 0, offline: 0 });
  assert.deepEqual(allNull.checks, []);
  assert.equal(allNull.ks, null);
  assert.equal(allNull.jensenShannon, null);
  assert.match(allNull.notes.join('\n'), /no non-null values on either side/);
  assert.equal(allNull.distributionFailed, false);

  const onlineMissing = compareFeature({ name: 'dropped_live', type: 'float', online: [null, null, null, null], offline: [1, 2, 3, 4] });
  assert.equal(onlineMissing.rows.onlineOnlyNull, 4);
  assert.equal(onlineMissing.rows.mismatchRate, 1);
  assert.equal(onlineMissing.rowMismatchExceeded, true);
  assert.match(onlineMissing.notes.join('\n'), /no non-null values on the online side/);
  const report = buildParityReport([onlineMissing, allNull].map((r, i) => ({ name: r.name, online: i === 0 ? [null, null, null, null] : [null], offline: i === 0 ? [1, 2, 3, 4] : [null] })));
  assert.equal(report.alert, true, '1 of 2 features fully mismatched');
  assert.doesNotThrow(() => JSON.stringify(report));
});

test('deterministic: same report whatever the feature order, sorted by name, no randomness', () => {
  const rng = new Rng(99);
  const inputs: FeatureInput[] = [
    { name: 'zeta', type: 'float', online: normals(rng, 500, 0.1), offline: normals(rng, 500) },
    { name: 'Alpha', type: 'integer', online: [1, 2, 2, 3, null], offline: [1, 2, 3, 3, 4] },
    { name: 'beta', online: ['a', 'b', 'c'], offline: ['c', 'b', 'a'] },
    { name: 'émoji', online: [true, false], offline: [false, false] },
  ];
  const forward = JSON.stringify(buildParityReport(inputs));
  const backward = JSON.stringify(buildParityReport([...inputs].reverse()));
  assert.equal(forward, backward);
  assert.equal(JSON.stringify(buildParityReport(inputs)), forward, 'repeatable');
  assert.deepEqual(buildParityReport(inputs).features.map((f) => f.name), ['Alpha', 'beta', 'zeta', 'émoji']);
  assert.throws(() => buildParityReport([inputs[0], inputs[0]]), /duplicate feature "zeta"/);
});
