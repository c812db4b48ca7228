/**
 * Small deterministic numeric helpers shared by the parity statistics.
 *
 * Everything here is a pure function of its arguments: no randomness, no dependence on the
 * order in which a caller collected values (callers sort first), and sums of many terms use
 * Neumaier compensation so the result does not drift with the number of terms.
 */

import { CompensatedSum } from '../ops/compensated-sum.js';

/** The engine's Neumaier summation, so parity and aggregations share one algorithm. */
export { CompensatedSum as NeumaierSum } from '../ops/compensated-sum.js';

/** Neumaier-compensated sum of a sequence, in the order given. */
export function compensatedSum(values: Iterable<number>): number {
  const s = new CompensatedSum();
  for (const x of values) s.add(x);
  return s.value;
}

/**
 * Ascending sorted copy of `values` (numeric order; -0 sorts before +0, which compare equal
 * everywhere else). The input is never mutated. Callers must remove NaN first.
 */
export function sortedCopy(values: readonly number[] | Float64Array): Float64Array {
  const out = Float64Array.from(values);
  out.sort();
  return out;
}

/**
 * Quantile `q` (0..1) of an ascending sorted, non-empty array, with NumPy's default
 * `method='linear'` (Hyndman & Fan type 7): virtual index h = (n − 1)·q, result
 * x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). Like NumPy, the interpolation is evaluated from the
 * upper neighbour when the fraction is ≥ 0.5 (b − (b − a)·(1 − g)), so results agree with
 * `numpy.quantile` to the last bit.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('quantile of an empty sample');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile level must be in [0, 1], got ${q}`);
  const virtual = (n - 1) * q;
  if (virtual >= n - 1) return sorted[n - 1];
  const lower = Math.floor(virtual);
  const gamma = virtual - lower;
  const a = sorted[lower];
  const b = sorted[lower + 1];
  const diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);

/** The largest double strictly below `x` (like `numpy.nextafter(x, -inf)`). */
export function nextDown(x: number): number {
  if (Number.isNaN(x) || x === -Infinity) return x;
  if (x === 0) return -Number.MIN_VALUE;
  F64[0] = x;
  if (x > 0) U64[0] -= 1n;
  else U64[0] += 1n;
  return F64[0];
}

/** Round half to even, like `numpy.round` / Python's `round`. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // rounds half up
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** x·2^e without intermediate overflow or underflow of 2^e (like C's ldexp). */
export function ldexp(x: number, e: number): number {
  let result = x;
  let rest = e;
  while (rest > 1000) {
    result *= 2 ** 1000;
    rest -= 1000;
  }
  while (rest < -1000) {
    result *= 2 ** -1000;
    rest += 1000;
  }
  return result * 2 ** rest;
}

/**
 * Exact product n·x as an unevaluated sum hi + lo (Dekker's two-product with Veltkamp
 * splitting; no FMA in JavaScript).
 */
export function twoProduct(a: number, b: number): { hi: number; lo: number } {
  const hi = a * b;
  const split = 134217729; // 2^27 + 1
  const ca = split * a;
  const aHi = ca - (ca - a);
  const aLo = a - aHi;
  const cb = split * b;
  const bHi = cb - (cb - b);
  const bLo = b - bHi;
  const lo = aHi * bHi - hi + aHi * bLo + aLo * bHi + aLo * bLo;
  return { hi, lo };
}

/** Greatest common divisor of two non-negative safe integers. */
export function gcd(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y !== 0) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
}

// Lanczos approximation, g = 7, nine coefficients (Godfrey); relative error ~1e-15.
const LANCZOS_G = 7;
const LANCZOS: readonly number[] = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  if (x < 0.5) return logGamma(x + 1) - Math.log(x);
  const z = x - 1;
  let series = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) series += LANCZOS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(series);
}
