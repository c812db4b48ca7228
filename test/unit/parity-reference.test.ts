/**
 * The parity statistics against an independent implementation: test/python/parity_reference.py
 * computes every case with SciPy / NumPy (ks_2samp, kstwo, smirnov, kolmogorov, gammaincc,
 * chi2_contingency, jensenshannon, numpy.quantile, PSI in numpy). The cases are generated here
 * from fixed seeds and sent to Python as JSON, so both sides see the same doubles.
 *
 * Tolerances: statistics 1e-9 relative, p-values 1e-6 relative (both with a tiny absolute floor
 * for values that are 0 up to rounding). A missing python3 / SciPy is a failure, never a skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { binCategorical, binNumeric } from '../../src/parity/bins.js';
import { chiSquareHomogeneity } from '../../src/parity/chi-square.js';
import { regularizedGammaP, regularizedGammaQ } from '../../src/parity/incomplete-gamma.js';
import { jensenShannonOfCounts } from '../../src/parity/jensen-shannon.js';
import { kolmogorovSf, kstwoSf, smirnovSf } from '../../src/parity/kolmogorov-distribution.js';
import { ksTwoSample, type KsMethod } from '../../src/parity/ks-test.js';
import { logGamma, quantileSorted, sortedCopy } from '../../src/parity/numeric.js';
import { psiOfCounts } from '../../src/parity/psi.js';
import { compareRows, type FeatureType, type FeatureValue } from '../../src/parity/row-compare.js';
import { Rng } from '../helpers/prng.js';

const INSTALL_HINT = 'run `pip install -r requirements.txt` (CI installs it)';
const STAT_TOL = 1e-9;
const P_TOL = 1e-6;
const ABS_FLOOR = 1e-14;

// ---------------------------------------------------------------------------------------------
// Case generation (seeded, deterministic)

function normals(rng: Rng, n: number, mean = 0, sd = 1, decimals?: number): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const u1 = 1 - rng.next();
    const u2 = rng.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    for (const z of [r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2)]) {
      if (out.length === n) break;
      const v = mean + sd * z;
      out.push(decimals === undefined ? v : Number(v.toFixed(decimals)));
    }
  }
  return out;
}

function ints(rng: Rng, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => rng.int(lo, hi));
}

function withNulls<T extends FeatureValue>(rng: Rng, values: T[], rate: number): (T | null)[] {
  return values.map((v) => (rng.chance(rate) ? null : v));
}

interface KsCase { name: string; a: number[]; b: number[]; method: KsMethod }
interface NumericCase { name: string; online: number[]; offline: number[]; bins: number; epsilon: number }
interface CategoricalCase { name: string; online: FeatureValue[]; offline: FeatureValue[]; epsilon: number }
interface RowsCase { name: string; online: FeatureValue[]; offline: FeatureValue[]; type: FeatureType; tolerance: number }
interface CountsCase { name: string; online: number[]; offline: number[] }
interface QuantileCase { values: number[]; q: number[] }

function buildCases() {
  const rng = new Rng(20250301);
  const ks: KsCase[] = [];
  const addKs = (name: string, a: number[], b: number[], method: KsMethod = 'auto') => ks.push({ name, a, b, method });
  addKs('tiny n=1 vs 1, different', [1], [2]);
  addKs('tiny n=1 vs 1, equal', [1], [1]);
  addKs('tiny n=2 vs 1', [1, 2], [3]);
  addKs('tiny n=2 vs 3 interleaved', [2, 0.5], [1, 3, 0]);
  addKs('tiny n=3 vs 3 identical', [1, 2, 3], [3, 2, 1]);
  addKs('tiny n=3 vs 2 with ties', [1, 1, 2], [1, 2]);
  addKs('ties across samples', [0, 1, 1, 2], [1, 1, 1, 3, 3]);
  const same = normals(rng, 100);
  addKs('identical samples n=100', same, [...same].reverse());
  addKs('ties: rounded normals 40 vs 55', normals(rng, 40, 0, 1, 1), normals(rng, 55, 0.3, 1, 1));
  addKs('ties: integers 0..4, 300 vs 200', ints(rng, 300, 0, 4), ints(rng, 200, 0, 4));
  addKs('unequal 7 vs 13', normals(rng, 7), normals(rng, 13, 0.5));
  addKs('unequal 50 vs 60', normals(rng, 50), normals(rng, 60));
  addKs('equal 100 vs 100 shifted by 1 (tiny p)', normals(rng, 100), normals(rng, 100, 1));
  addKs('unequal 300 vs 200', normals(rng, 300), normals(rng, 200, 0.2));
  addKs('unequal 999 vs 1000', normals(rng, 999), normals(rng, 1000));
  addKs('unequal 3000 vs 7000 shifted', normals(rng, 3000), normals(rng, 7000, 0.08));
  const big1 = normals(rng, 5000);
  const big2 = normals(rng, 5000, 0.05);
  addKs('large 5000 vs 5000, auto (exact: SciPy is exact up to 10000)', big1, big2, 'auto');
  addKs('large 5000 vs 5000, asymp', big1, big2, 'asymp');
  addKs('large 5000 vs 5000 ties, asymp', ints(rng, 5000, 0, 20), ints(rng, 5000, 0, 20), 'asymp');
  addKs('large 12000 vs 11000, auto -> asymp', normals(rng, 12000), normals(rng, 11000, 0.03));
  addKs('large 12001 vs 12003 integer ties, auto -> asymp (odd n_eff rounding)', ints(rng, 12001, 0, 6), ints(rng, 12003, 0, 6));
  addKs('12000 vs 11000, forced exact', normals(rng, 12000), normals(rng, 11000, 0.02), 'exact');
  addKs('small asymp with tiny n_eff', normals(rng, 3), normals(rng, 40, 1), 'asymp');
  addKs('asymp, large D (smirnov branch)', normals(rng, 400), normals(rng, 300, 1.5), 'asymp');

  const kstwo: { n: number; x: number }[] = [];
  for (const n of [1, 2, 3, 5, 10, 50, 100, 140, 141, 500, 1000, 2500, 5000, 20000, 150000]) {
    for (const x of [0.3 / n, 0.7 / n, 1 / n, Math.sqrt(0.5 / n), Math.sqrt(0.7 / n), Math.sqrt(1 / n), Math.sqrt(2 / n), Math.sqrt(3 / n), Math.sqrt(4.5 / n), Math.sqrt(10 / n), Math.sqrt(50 / n), Math.sqrt(400 / n), 0.5, 0.7, 1 - 1 / n, 0.999]) {
      if (x >= 0 && x <= 1) kstwo.push({ n, x });
    }
  }
  const kolmogorov = [0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 0.82, 0.83, 1, 1.5, 2, 3, 5, 10];

  const gamma: { a: number; x: number }[] = [];
  for (const a of [0.5, 1, 1.5, 2.5, 5, 10, 50, 99.5, 500, 4999.5]) {
    for (const x of [0.01 * a, 0.5 * a, Math.max(a - 1, 0.001), a, a + 1, a + 2, 2 * a, 5 * a + 10, 30 * a + 50]) gamma.push({ a, x });
  }

  const chi2Counts: CountsCase[] = [
    { name: 'category missing online', online: [5, 0, 3], offline: [0, 4, 3] },
    { name: 'category empty on both sides (dropped)', online: [5, 0, 3], offline: [2, 0, 1] },
    { name: 'single category (dof 0)', online: [5], offline: [7] },
    { name: 'two categories', online: [40, 60], offline: [55, 45] },
    { name: 'large counts, tiny p', online: [5000, 3000, 2000], offline: [3000, 3000, 4000] },
    { name: 'many categories', online: ints(rng, 200, 0, 50), offline: ints(rng, 200, 0, 50) },
  ];

  const quantiles: QuantileCase[] = [];
  const levels = [0, 0.01, 0.05, 0.1, 1 / 3, 0.5, 0.7, 0.95, 0.99, 1];
  for (const n of [1, 2, 3, 10, 101, 1000]) quantiles.push({ values: normals(rng, n, 3, 10), q: levels });
  quantiles.push({ values: ints(rng, 57, -3, 3), q: levels });

  const numeric: NumericCase[] = [];
  const addNum = (name: string, online: number[], offline: number[], bins = 10, epsilon = 1e-4) => numeric.push({ name, online, offline, bins, epsilon });
  addNum('continuous, small shift', normals(rng, 2000, 0.1), normals(rng, 2000));
  addNum('continuous, unequal sizes, 20 bins', normals(rng, 700, 0, 1.3), normals(rng, 3000), 20);
  addNum('constant reference (bins <, =, >)', [4, 5, 5, 6, 6, 6], [5, 5, 5, 5]);
  addNum('zero-inflated reference', ints(rng, 500, 0, 9).map((v) => (v < 6 ? 0 : v)), ints(rng, 500, 0, 9).map((v) => (v < 8 ? 0 : v)));
  addNum('empty reference bin between interpolated quantiles', [1, 2, 0, 10, 11], [0, 0, 0, 10], 4);
  addNum('online entirely above the reference range', [100, 101, 102], normals(rng, 50));
  addNum('integer counts with ties', ints(rng, 800, 0, 5), ints(rng, 900, 0, 5));
  addNum('tiny: one value each', [2], [1]);
  addNum('two bins', normals(rng, 300), normals(rng, 300, 0.5), 2);
  addNum('PSI epsilon 1e-6', [1, 2, 3, 50, 60], normals(rng, 200), 10, 1e-6);
  addNum('empty offline side', [1, 2, 3], []);

  const categorical: CategoricalCase[] = [
    { name: 'category missing on one side each', online: ['a', 'a', 'b', 'c', null], offline: ['a', 'b', 'b', 'd'], epsilon: 1e-4 },
    { name: 'booleans', online: [true, false, true, true, null], offline: [false, false, true, false], epsilon: 1e-4 },
    { name: 'unicode order by UTF-16 code units', online: ['é', 'z', '😀', '\uffff', 'Z', 'a', 'a'], offline: ['a', 'Z', '😀', 'é', 'é'], epsilon: 1e-4 },
    { name: 'single category both sides', online: ['x', 'x'], offline: ['x', 'x', 'x'], epsilon: 1e-4 },
    { name: 'all null online', online: [null, null], offline: ['a', 'b'], epsilon: 1e-4 },
    {
      name: 'large shifted categorical',
      online: ints(rng, 5000, 0, 7).map((v) => `cat${v < 2 ? 0 : v}`),
      offline: ints(rng, 5000, 0, 7).map((v) => `cat${v}`),
      epsilon: 1e-4,
    },
    { name: 'integer category ids', online: ints(rng, 300, 1, 4), offline: ints(rng, 300, 1, 5), epsilon: 1e-4 },
  ];

  const rows: RowsCase[] = [];
  rows.push({
    name: 'float edge cases',
    type: 'float',
    tolerance: 0.1,
    online: [0, 100, 100, 90, -1, 0, null, 3, null, 5e-324, 1e300, 2.5, 'x'],
    offline: [0, 109, 111, 100, 1, 5, 4, null, null, 0, 1.05e300, 2.5, 1],
  });
  rows.push({ name: 'integer exact equality', type: 'integer', tolerance: 0.1, online: [10, 11, 0, null, 7, 1e15], offline: [11, 11, 0, 3, null, 1e15 + 2] });
  rows.push({ name: 'strings', type: 'string', tolerance: 0.1, online: ['a', 'a', null, 'c', ''], offline: ['a', 'b', 'x', null, ''] });
  rows.push({ name: 'booleans', type: 'boolean', tolerance: 0.1, online: [true, false, null, true], offline: [true, true, false, null] });
  rows.push({ name: 'all-null feature', type: 'float', tolerance: 0.1, online: [null, null, null], offline: [null, null, null] });
  rows.push({ name: 'no rows', type: 'float', tolerance: 0.1, online: [], offline: [] });
  {
    const base = normals(rng, 3000, 50, 20);
    const online = withNulls(rng, base.map((v) => (rng.chance(0.08) ? v * (1 + (rng.next() - 0.5)) : v + normals(rng, 1, 0, 0.01)[0])), 0.03);
    const offline = withNulls(rng, base, 0.03);
    rows.push({ name: 'large float with noise and nulls', type: 'float', tolerance: 0.1, online, offline });
    rows.push({ name: 'large float, tolerance 0.01', type: 'float', tolerance: 0.01, online, offline });
  }
  {
    const offline = withNulls(rng, ints(rng, 1000, 0, 30), 0.05);
    const online = offline.map((v) => (v !== null && rng.chance(0.1) ? v + rng.int(-2, 2) : v));
    rows.push({ name: 'large integer counts', type: 'integer', tolerance: 0.1, online, offline });
  }
  return { ks, kstwo, smirnov: kstwo, kolmogorov, gamma, chi2_counts: chi2Counts, quantiles, numeric, categorical, rows };
}

// ---------------------------------------------------------------------------------------------
// Reference results

type Num = number | string | null;
interface KsRef { statistic: Num; pvalue: Num; location: Num; sign: number }
interface Chi2Ref { statistic: Num; pvalue: Num; dof: number; cramers_v: Num; kept: number }
interface NumericRef { cuts: Num[] | null; online_counts?: number[]; offline_counts?: number[]; js?: Num; psi?: Num }
interface CategoricalRef { categories: string[]; online_counts: number[]; offline_counts: number[]; js: Num; psi: Num; chi2: Chi2Ref | null }
interface RowsRef {
  total: number; both_null: number; online_only_null: number; offline_only_null: number; both_present: number;
  value_mismatches: number; mismatched_rows: number; mismatch_rate: Num; smape: Num; numeric_pairs: number; quantiles: Num[] | null;
}
interface Reference {
  ks: KsRef[]; kstwo: Num[]; smirnov: Num[]; kolmogorov: Num[];
  gamma: { q: Num; p: Num; lgamma: Num }[];
  chi2_counts: (Chi2Ref | null)[]; quantiles: Num[][];
  numeric: NumericRef[]; categorical: CategoricalRef[]; rows: RowsRef[];
}

const CASES = buildCases();
let cached: Reference | undefined;

/** Runs the Python reference once; any missing interpreter or package is a failure, never a skip. */
function reference(): Reference {
  if (cached) return cached;
  const result = spawnSync('python3', ['test/python/parity_reference.py'], {
    input: JSON.stringify(CASES),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  // Exit 3 is the script's "a Python package is missing" (it exits before reading stdin, so the
  // write may also have failed with EPIPE: check the status first).
  if (result.status === 3) assert.fail(`${result.stderr.trim()} — ${INSTALL_HINT}`);
  if (result.error) assert.fail(`cannot run python3 (${result.error.message}): install Python 3 and ${INSTALL_HINT}`);
  if (result.status !== 0) assert.fail(`test/python/parity_reference.py failed (exit ${result.status}): ${result.stderr.trim()} — if a package is missing, ${INSTALL_HINT}`);
  cached = JSON.parse(result.stdout) as Reference;
  return cached;
}

function decode(v: Num): number | null {
  if (v === null) return null;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return v as number;
}

function assertClose(actual: number | null | undefined, expected: Num, relTol: number, label: string, absTol = ABS_FLOOR): void {
  const e = decode(expected);
  if (e === null || actual === null || actual === undefined) {
    assert.equal(actual ?? null, e, `${label}: expected ${String(e)}, got ${String(actual)}`);
    return;
  }
  if (Object.is(actual, e) || actual === e) return;
  const diff = Math.abs(actual - e);
  const scale = Math.max(Math.abs(actual), Math.abs(e));
  assert.ok(diff <= Math.max(relTol * scale, absTol), `${label}: expected ${e}, got ${actual} (rel ${scale === 0 ? 0 : diff / scale})`);
}

// ---------------------------------------------------------------------------------------------

test('two-sample KS matches scipy.stats.ks_2samp (statistic, p-value, location, sign)', () => {
  const ref = reference();
  CASES.ks.forEach((c, i) => {
    const r = ksTwoSample(c.a, c.b, { method: c.method });
    const e = ref.ks[i];
    const label = `KS "${c.name}" (n=${c.a.length}/${c.b.length}, ${r.method})`;
    assertClose(r.statistic, e.statistic, STAT_TOL, `${label} statistic`);
    assertClose(r.pValue, e.pvalue, P_TOL, `${label} p-value`, 1e-300);
    assertClose(r.statisticLocation, e.location, 0, `${label} location`);
    assert.equal(r.statisticSign, e.sign, `${label} sign`);
    assert.equal(r.n1, c.a.length);
    assert.equal(r.n2, c.b.length);
  });
  // The named edge cases behave as documented, not merely as SciPy does.
  const byName = (name: string) => ksTwoSample(CASES.ks.find((c) => c.name === name)!.a, CASES.ks.find((c) => c.name === name)!.b);
  for (const name of ['tiny n=1 vs 1, equal', 'tiny n=3 vs 3 identical', 'identical samples n=100']) {
    const r = byName(name);
    assert.equal(r.statistic, 0, name);
    assert.equal(r.pValue, 1, name);
  }
  assert.equal(byName('large 5000 vs 5000, auto (exact: SciPy is exact up to 10000)').method, 'exact');
  assert.equal(byName('large 12000 vs 11000, auto -> asymp').method, 'asymp');
});

test('KS distributions match scipy: kstwo.sf over every algorithm region, smirnov, kolmogorov', () => {
  const ref = reference();
  CASES.kstwo.forEach((c, i) => {
    assertClose(kstwoSf(c.n, c.x), ref.kstwo[i], 1e-9, `kstwo.sf(${c.x}, ${c.n})`, 1e-300);
    assertClose(smirnovSf(c.n, c.x), ref.smirnov[i], 1e-9, `smirnov(${c.n}, ${c.x})`, 1e-300);
  });
  CASES.kolmogorov.forEach((x, i) => assertClose(kolmogorovSf(x), ref.kolmogorov[i], 1e-12, `kolmogorov(${x})`, 1e-300));
});

test('regularized incomplete gamma and log-gamma match scipy.special / math.lgamma', () => {
  const ref = reference();
  CASES.gamma.forEach((c, i) => {
    assertClose(regularizedGammaQ(c.a, c.x), ref.gamma[i].q, 1e-9, `gammaincc(${c.a}, ${c.x})`, 1e-300);
    assertClose(regularizedGammaP(c.a, c.x), ref.gamma[i].p, 1e-9, `gammainc(${c.a}, ${c.x})`, 1e-300);
    assertClose(logGamma(c.a), ref.gamma[i].lgamma, 1e-12, `lgamma(${c.a})`, 1e-14);
  });
});

test('chi-square homogeneity matches scipy.stats.chi2_contingency(correction=False)', () => {
  const ref = reference();
  CASES.chi2_counts.forEach((c, i) => {
    const r = chiSquareHomogeneity(c.online, c.offline);
    const e = ref.chi2_counts[i];
    assert.ok(r !== undefined && e !== null, c.name);
    assertClose(r.statistic, e.statistic, STAT_TOL, `${c.name} statistic`);
    assertClose(r.pValue, e.pvalue, P_TOL, `${c.name} p-value`, 1e-300);
    assert.equal(r.dof, e.dof, `${c.name} dof`);
    assert.equal(r.categories.length, e.kept, `${c.name} kept categories`);
    assertClose(r.cramersV, e.cramers_v, STAT_TOL, `${c.name} Cramér's V`);
  });
});

test('quantiles match numpy.quantile (linear)', () => {
  const ref = reference();
  CASES.quantiles.forEach((c, i) => {
    const sorted = sortedCopy(c.values);
    c.q.forEach((q, j) => assertClose(quantileSorted(sorted, q), ref.quantiles[i][j], 0, `quantile n=${c.values.length} q=${q}`, 0));
  });
});

test('numeric bins, Jensen-Shannon divergence and PSI match numpy / scipy jensenshannon²', () => {
  const ref = reference();
  CASES.numeric.forEach((c, i) => {
    const e = ref.numeric[i];
    const binned = binNumeric(c.online, c.offline, c.bins);
    if (e.cuts === null) {
      assert.equal(binned, undefined, `${c.name}: no bins without offline values`);
      return;
    }
    assert.ok(binned && binned.bins.kind === 'numeric', c.name);
    assert.deepEqual(binned.bins.cuts, e.cuts.map(decode), `${c.name} cuts`);
    assert.deepEqual(binned.online, e.online_counts, `${c.name} online counts`);
    assert.deepEqual(binned.offline, e.offline_counts, `${c.name} offline counts`);
    assertClose(jensenShannonOfCounts(binned) ?? null, e.js ?? null, STAT_TOL, `${c.name} JS`);
    assertClose(psiOfCounts(binned, { epsilon: c.epsilon }) ?? null, e.psi ?? null, STAT_TOL, `${c.name} PSI`);
  });
  // Documented shapes of the bins.
  const constant = binNumeric([4, 5, 6], [5, 5, 5, 5])!;
  assert.deepEqual(constant.online, [1, 1, 1], 'a constant reference gets bins <v, =v, >v');
  const emptyBin = CASES.numeric.findIndex((c) => c.name.startsWith('empty reference bin'));
  assert.ok(ref.numeric[emptyBin].offline_counts!.includes(0), 'the empty-bin case has an empty reference bin');
});

test('categorical bins, JS, PSI and chi-square match (union of categories, missing on one side)', () => {
  const ref = reference();
  CASES.categorical.forEach((c, i) => {
    const e = ref.categorical[i];
    const online = c.online.filter((v) => v !== null).map(String);
    const offline = c.offline.filter((v) => v !== null).map(String);
    const binned = binCategorical(online, offline);
    assert.ok(binned.bins.kind === 'categorical');
    assert.deepEqual(binned.bins.categories, e.categories, `${c.name} categories`);
    assert.deepEqual(binned.online, e.online_counts, `${c.name} online counts`);
    assert.deepEqual(binned.offline, e.offline_counts, `${c.name} offline counts`);
    assertClose(jensenShannonOfCounts(binned) ?? null, e.js, STAT_TOL, `${c.name} JS`);
    assertClose(psiOfCounts(binned, { epsilon: c.epsilon }) ?? null, e.psi, STAT_TOL, `${c.name} PSI`);
    const chi = chiSquareHomogeneity(binned.online, binned.offline, binned.bins.categories);
    if (e.chi2 === null) {
      assert.equal(chi, undefined, `${c.name}: chi-square undefined`);
    } else {
      assert.ok(chi, c.name);
      assertClose(chi.statistic, e.chi2.statistic, STAT_TOL, `${c.name} chi2 statistic`);
      assertClose(chi.pValue, e.chi2.pvalue, P_TOL, `${c.name} chi2 p-value`, 1e-300);
      assert.equal(chi.dof, e.chi2.dof, `${c.name} chi2 dof`);
    }
  });
});

test('row comparison matches the numpy reference (nulls, mismatches, SMAPE, difference quantiles)', () => {
  const ref = reference();
  CASES.rows.forEach((c, i) => {
    const e = ref.rows[i];
    const r = compareRows(c.online, c.offline, { type: c.type, tolerance: c.tolerance });
    const label = `rows "${c.name}"`;
    assert.equal(r.total, e.total, `${label} total`);
    assert.equal(r.bothNull, e.both_null, `${label} both null`);
    assert.equal(r.onlineOnlyNull, e.online_only_null, `${label} online-only null`);
    assert.equal(r.offlineOnlyNull, e.offline_only_null, `${label} offline-only null`);
    assert.equal(r.bothPresent, e.both_present, `${label} both present`);
    assert.equal(r.valueMismatches, e.value_mismatches, `${label} value mismatches`);
    assert.equal(r.mismatchedRows, e.mismatched_rows, `${label} mismatched rows`);
    assertClose(r.mismatchRate, e.mismatch_rate, 0, `${label} mismatch rate`, 0);
    assert.equal(r.numericPairs, e.numeric_pairs, `${label} numeric pairs`);
    assertClose(r.smape, e.smape, STAT_TOL, `${label} SMAPE`);
    if (e.quantiles === null) {
      assert.equal(r.differenceQuantiles, null, `${label} quantiles`);
    } else {
      const q = r.differenceQuantiles;
      assert.ok(q, `${label} quantiles`);
      [q.p1, q.p5, q.p50, q.p95, q.p99].forEach((v, j) => assertClose(v, e.quantiles![j], 0, `${label} quantile ${j}`, 0));
    }
  });
});
