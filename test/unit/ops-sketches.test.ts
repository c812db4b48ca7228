/**
 * The sketches behind the bounded aggregations, against independent references: MurmurHash3's
 * published test vectors, DDSketch's relative-error guarantee against sorted values, the
 * HyperLogLog's error against exact distinct counts, and order / merge-tree independence
 * (bit for bit), which is what makes them deterministic across batching, restarts and tiles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Accumulator } from '../../src/ops/aggregation.js';
import { boundedCountDistinctAgg } from '../../src/ops/aggregations/bounded-count-distinct.js';
import { momentsAgg } from '../../src/ops/aggregations/moments.js';
import { quantileAgg } from '../../src/ops/aggregations/quantile.js';
import { murmur3 } from '../../src/ops/sketches/murmur3.js';
import { ByteReader, ByteWriter } from '../../src/state/codec.js';
import { exact } from '../helpers/engine.js';
import { Rng } from '../helpers/prng.js';
import { pythonExpected } from '../helpers/python-expected.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

test('murmur3 x86_32 matches the published test vectors', () => {
  // From the SMHasher reference implementation's verification values as commonly quoted
  // (e.g. the Wikipedia article and the Guava / mmh3 test suites).
  const cases: Array<[Uint8Array, number, number]> = [
    [new Uint8Array(0), 0, 0],
    [new Uint8Array(0), 1, 0x514e28b7],
    [new Uint8Array(0), 0xffffffff, 0x81f16f39],
    [new Uint8Array([0, 0, 0, 0]), 0, 0x2362f9de],
    [new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0, 0x76293b50],
    [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0, 0xf55b516b],
    [new Uint8Array([0x21, 0x43, 0x65]), 0, 0x7e4a8634],
    [new Uint8Array([0x21, 0x43]), 0, 0xa0f7b07a],
    [new Uint8Array([0x21]), 0, 0x72661cf4],
    [utf8('Hello, world!'), 1234, 0xfaf6cdb3],
    [utf8('The quick brown fox jumps over the lazy dog'), 0x9747b28c, 0x2fa826cd],
    [utf8('aaaa'), 0x9747b28c, 0x5a97808a],
    [utf8('abc'), 0, 0xb3dd93fa],
  ];
  for (const [bytes, seed, want] of cases) assert.equal(murmur3(bytes, seed), want, `${Buffer.from(bytes).toString('hex')} seed ${seed}`);
});

/** Feed values to fresh add-only accumulators split at random, merged in a random tree. */
function viaRandomMerges(create: () => Accumulator, values: readonly number[] | readonly string[], rng: Rng): Accumulator {
  let parts: Accumulator[] = [];
  let cur = create();
  for (const v of values) {
    cur.add(v, 0, 0);
    if (rng.chance(0.01)) {
      parts.push(cur);
      cur = create();
    }
  }
  parts.push(cur);
  while (parts.length > 1) {
    const i = rng.int(0, parts.length - 2);
    parts[i].merge(parts[i + 1]);
    parts = [...parts.slice(0, i + 1), ...parts.slice(i + 2)];
  }
  return parts[0];
}

function shuffled<T>(xs: readonly T[], rng: Rng): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function roundTrip(def: { decode(r: ByteReader): Accumulator }, acc: Accumulator): Accumulator {
  const w = new ByteWriter();
  acc.encode(w);
  return def.decode(new ByteReader(w.bytes()));
}

test('quantile sketch: within the declared relative error of the exact quantile, for every q and sign', () => {
  const rng = new Rng(3);
  for (const relativeError of [0.01, 0.002, 0.05]) {
    for (const sign of [1, -1]) {
      // Log-uniform over 12 orders of magnitude: every bucket range is exercised.
      const values = Array.from({ length: 20_000 }, () => sign * 10 ** (rng.next() * 12 - 6));
      const sorted = [...values].sort((a, b) => a - b);
      const quantiles = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1];
      for (const q of quantiles) {
        const def = quantileAgg({ qs: [q], list: false, exactUpTo: 100, relativeError });
        const acc = def.create();
        for (const v of values) acc.add(v, 0, 0);
        // Reference: numpy's linear interpolation over the exact sorted values, by hand.
        const h = (sorted.length - 1) * q;
        const lo = Math.floor(h);
        const want = sorted[lo] + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? 0) - sorted[lo]);
        const got = acc.result() as number;
        assert.ok(Math.abs(got - want) <= relativeError * Math.abs(want) * (1 + 1e-9), `α ${relativeError} q ${q}: ${got} vs ${want}`);
      }
    }
  }
});

test('quantile: the same values in any order, split and merged in any tree, give the same bits; so does a sliding accumulator and a restore', () => {
  const rng = new Rng(8);
  const values = Array.from({ length: 5000 }, () => Math.round((rng.next() - 0.3) * 1e6) / 100);
  for (const exactUpTo of [10, 10_000]) {
    const def = quantileAgg({ qs: [0.9], list: false, exactUpTo, relativeError: 0.01 });
    const reference = viaRandomMerges(def.create, values, rng).result();
    for (let k = 0; k < 5; k++) {
      assert.equal(exact(viaRandomMerges(def.create, shuffled(values, rng), rng).result()), exact(reference), `exactUpTo ${exactUpTo}, order ${k}`);
    }
    // Sliding: values added, extra ones added and removed again.
    const sliding = def.createSliding!();
    const extra = values.slice(0, 700).map((v) => v * 3 + 1);
    for (const v of shuffled([...values, ...extra], rng)) sliding.add(v, 0, 0);
    for (const v of shuffled(extra, rng)) sliding.remove(v, 0, 0);
    assert.equal(exact(sliding.result()), exact(reference), `sliding, exactUpTo ${exactUpTo}`);
    assert.equal(exact(roundTrip(def, viaRandomMerges(def.create, values, rng)).result()), exact(reference), 'encode → decode');
  }
});

test('countDistinct with a bound: exact up to it; above, the HyperLogLog error matches 1.04/√m and stays within 4σ', () => {
  const rng = new Rng(21);
  const def = boundedCountDistinctAgg(1000, 12);
  const sigma = 1.04 / Math.sqrt(4096);
  const errors: number[] = [];
  for (let trial = 0; trial < 60; trial++) {
    const n = rng.int(1, 60_000);
    const acc = def.create();
    // Strings and numbers, with repeats: the distinct count is n.
    for (let i = 0; i < n; i++) {
      const v = i % 2 === 0 ? `user-${trial}-${i}` : i * 1.5 + trial * 1e7;
      acc.add(v, 0, 0);
      if (rng.chance(0.3)) acc.add(v, 0, 0);
    }
    const got = acc.result() as number;
    if (n <= 1000) assert.equal(got, n, `exact below the bound (n = ${n})`);
    else {
      const e = (got - n) / n;
      errors.push(e);
      assert.ok(Math.abs(e) <= 4 * sigma, `n ${n}: estimate ${got}, error ${(e * 100).toFixed(2)} %`);
    }
  }
  const rms = Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / errors.length);
  assert.ok(errors.length > 40);
  assert.ok(rms < 1.6 * sigma, `RMS relative error ${rms} vs σ ${sigma}`);
});

test('countDistinct HyperLogLog: order, merge tree, sliding removal and restore never change the estimate', () => {
  const rng = new Rng(4);
  const values = Array.from({ length: 30_000 }, (_, i) => `v${i % 9000}`);
  const def = boundedCountDistinctAgg(100, 10);
  const reference = viaRandomMerges(def.create, values, rng).result();
  for (let k = 0; k < 4; k++) assert.equal(viaRandomMerges(def.create, shuffled(values, rng), rng).result(), reference, `order ${k}`);
  const sliding = def.createSliding!();
  const extra = Array.from({ length: 4000 }, (_, i) => `x${i}`);
  for (const v of shuffled([...values, ...extra], rng)) sliding.add(v, 0, 0);
  for (const v of shuffled(extra, rng)) sliding.remove(v, 0, 0);
  assert.equal(sliding.result(), reference, 'sliding with removals');
  // Removing down to the bound answers exactly again.
  const few = def.createSliding!();
  for (let i = 0; i < 500; i++) few.add(`k${i}`, 0, 0);
  for (let i = 0; i < 420; i++) few.remove(`k${i}`, 0, 0);
  assert.equal(few.result(), 80);
  assert.equal(roundTrip(def, viaRandomMerges(def.create, values, rng)).result(), reference, 'encode → decode');
});

test('skewness and kurtosis stay accurate over a long sliding window with removals, against scipy', () => {
  // 60,000 values around 1e4 in regimes of very different spread, in a window of 500.
  const rng = new Rng(17);
  const values: number[] = [];
  for (let i = 0; i < 60_000; i++) {
    const spread = [1000, 0.01, 50, 1e-3][Math.floor(i / 5000) % 4];
    values.push(1e4 + spread * (rng.next() + rng.next() ** 3));
  }
  const W = 500;
  const checks: number[] = [];
  for (let i = W; i < values.length; i += 997) checks.push(i);
  checks.push(...[5000, 5001, 5100, 5499, 5500, 5600].map((i) => i + W));
  const skew = momentsAgg('skewness', true).createSliding!();
  const kurt = momentsAgg('kurtosis', false).createSliding!();
  const got: Array<[number, number]> = [];
  let c = 0;
  const sortedChecks = [...new Set(checks)].sort((a, b) => a - b);
  for (let i = 0; i < values.length && c < sortedChecks.length; i++) {
    skew.add(values[i], i, i);
    kurt.add(values[i], i, i);
    if (i >= W) {
      skew.remove(values[i - W], i - W, i - W);
      kurt.remove(values[i - W], i - W, i - W);
    }
    if (i === sortedChecks[c]) {
      got.push([skew.result() as number, kurt.result() as number]);
      c++;
    }
  }
  const want = pythonExpected<Array<[number, number, number]>>('test/python/moments_expected.py', { values, window: W, at: sortedChecks });
  let worst = 0;
  for (let k = 0; k < got.length; k++) {
    const [s, ku] = got[k];
    const [ws, wk, meanOverStd] = want[k];
    // The documented bound: round-off grows with |mean| / σ, as any one-pass update's does.
    const tol = 1e-10 + 1e-13 * meanOverStd;
    worst = Math.max(worst, Math.abs(s - ws) / tol, Math.abs(ku - wk) / tol);
    assert.ok(Math.abs(s - ws) <= tol * Math.max(1, Math.abs(ws)), `skewness at ${sortedChecks[k]} (|mean|/σ ${meanOverStd.toExponential(1)}): ${s} vs ${ws}`);
    assert.ok(Math.abs(ku - wk) <= tol * Math.max(1, Math.abs(wk)), `kurtosis at ${sortedChecks[k]} (|mean|/σ ${meanOverStd.toExponential(1)}): ${ku} vs ${wk}`);
  }
  assert.ok(worst > 0.001, 'the check is not vacuous');
});
