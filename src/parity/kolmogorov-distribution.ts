/**
 * Distributions of Kolmogorov–Smirnov statistics, following the algorithms SciPy uses so that
 * p-values agree with `scipy.stats.ks_2samp` (see ks-test.ts):
 *
 * - {@link kolmogorovSf}: the limiting distribution of √n·Dₙ (Kolmogorov's series;
 *   `scipy.special.kolmogorov`, i.e. `scipy.stats.kstwobign.sf`).
 * - {@link smirnovSf}: the exact one-sided statistic Dₙ⁺ (Birnbaum–Tingey / Smirnov sum;
 *   `scipy.special.smirnov`).
 * - {@link kstwoSf} / {@link kstwoCdf}: the two-sided one-sample statistic Dₙ for finite n
 *   (`scipy.stats.kstwo`), chosen per region as in Simard & L'Ecuyer (2011): Ruben–Gambino
 *   closed forms at the ends, 2·smirnov for large d, the Durbin matrix (Marsaglia–Tsang–Wang)
 *   or Pomeranz recursion for small n, and the Pelz–Good expansion for large n.
 *
 * SciPy's two-sample test evaluates `kstwo.sf(d, round(n₁n₂/(n₁+n₂)))` on its asymptotic path;
 * that is why the finite-n one-sample distribution lives here.
 *
 * Where SciPy uses double-double or long-double arithmetic we use plain doubles with the sums
 * taken in log space (all terms positive) and compensated; agreement is ~1e-12 relative for
 * the sample sizes the parity checker sees, far inside the tests' 1e-9 / 1e-6 tolerances.
 */
import { ldexp, NeumaierSum, twoProduct } from './numeric.js';

const PI2 = Math.PI * Math.PI;
const PI4 = PI2 * PI2;
const PI6 = PI4 * PI2;
const SQRT2PI = Math.sqrt(2 * Math.PI);
const LOG_2PI = Math.log(2 * Math.PI);
const SQRT3 = Math.sqrt(3);
/** log(2^-1075): below this exp() is 0 even as a subnormal (cephes MINLOG). */
const MINLOG = -745.1332191019412;
/** Kolmogorov series: exp of anything below this is 0. */
const MIN_EXPABLE = -708 - 38;
/** Switch between the two theta-function series for K(x). */
const KOLMOG_CUTOVER = 0.82;
/** Above this n the one-sided Smirnov distribution uses its asymptotic form (as SciPy). */
const SMIRNOV_MAX_COMPUTE_N = 1_000_000;
const E128 = 128;
const EP128 = 2 ** 128;
const EM128 = 2 ** -128;

function clip01(p: number): number {
  return p < 0 ? 0 : p > 1 ? 1 : p;
}

/**
 * Survival function of the Kolmogorov limit distribution, P(K > x) where K = lim √n·Dₙ:
 * 2 Σ_{k≥1} (−1)^(k−1) e^(−2k²x²), evaluated for small x through the Jacobi-theta form
 * (√(2π)/x) Σ e^(−(2k−1)²π²/(8x²)) so that both tails keep full precision.
 */
export function kolmogorovSf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 1;
  if (x <= Math.PI / Math.sqrt(-MIN_EXPABLE * 8)) return 1;
  if (x <= KOLMOG_CUTOVER) {
    const w = SQRT2PI / x;
    const logu8 = -PI2 / (x * x);
    const u = Math.exp(logu8 / 8);
    let cdf: number;
    if (u === 0) {
      cdf = Math.exp(logu8 / 8 + Math.log(w));
    } else {
      const u8 = Math.exp(logu8);
      const u8cubed = u8 ** 3;
      let p = 1 + u8cubed;
      p = 1 + u8 * u8 * p;
      p = 1 + u8 * p;
      cdf = w * u * p;
    }
    return clip01(1 - cdf);
  }
  const v = Math.exp(-2 * x * x);
  const vsq = v * v;
  const v3 = v ** 3;
  let p = 1;
  p = 1 - v3 * v3 * v * p;
  p = 1 - v3 * vsq * p;
  p = 1 - v3 * p;
  return clip01(2 * v * p);
}

/**
 * Survival function of the one-sided one-sample KS statistic, P(Dₙ⁺ ≥ x)
 * (`scipy.special.smirnov(n, x)`), by the Birnbaum–Tingey sum
 *   x · Σ_{v=0}^{⌈n(1−x)⌉−1} C(n, v) (x + v/n)^(v−1) (1 − x − v/n)^(n−v),
 * whose terms are all positive; each term is formed in log space and the sum is scaled by
 * its largest term, so nothing overflows or cancels.
 */
export function smirnovSf(n: number, x: number): number {
  if (!(Number.isInteger(n) && n > 0 && x >= 0 && x <= 1)) return Number.NaN;
  if (n === 1) return 1 - x;
  if (x === 0) return 1;
  if (x === 1) return 0;

  // floor(n·x) and its fractional part, from the exact product.
  const { hi, lo } = twoProduct(n, x);
  let nxFloor = Math.floor(hi);
  let alpha = hi - nxFloor + lo;
  if (alpha < 0) {
    nxFloor -= 1;
    alpha += 1;
  }
  if (alpha >= 1) {
    nxFloor += 1;
    alpha = 0;
  }
  // Last term index: v < n(1 − x) strictly.
  let lastV = n - nxFloor - (alpha === 0 ? 0 : 1);
  if (alpha === 0) lastV -= 1;

  if (nxFloor === 0 || (nxFloor === 1 && alpha === 0)) {
    // x ≤ 1/n: closed form P(Dₙ⁺ < x) = x (1 + x)^(n−1).
    const cdf = x * Math.exp((n - 1) * Math.log1p(x));
    return clip01(1 - cdf);
  }
  if (-2 * n * x * x < MINLOG) return 0;
  if (nxFloor >= n - 1) return clip01(Math.exp(n * Math.log1p(-x))); // x ≥ 1 − 1/n
  if (n > SMIRNOV_MAX_COMPUTE_N) {
    const logp = -((6 * n * x + 1) ** 2) / 18 / n;
    if (logp < -Math.LN2) return clip01(Math.exp(logp));
    return clip01(1 + Math.expm1(logp));
  }

  const terms = lastV + 1;
  const logTerms = new Float64Array(terms);
  const logBinomial = new NeumaierSum(); // log C(n, v)
  let maxLog = -Infinity;
  for (let v = 0; v < terms; v++) {
    const head = x + v / n; // x + v/n
    const tailDirect = (n - v - hi - lo) / n; // 1 − x − v/n, exact up to the final rounding
    const logTail = tailDirect > 0.5 ? Math.log1p(-head) : Math.log(tailDirect);
    const logHead = v === 0 ? Math.log(x) : Math.log(head);
    const value = tailDirect > 0 ? logBinomial.value + (n - v) * logTail + (v - 1) * logHead : -Infinity;
    logTerms[v] = value;
    if (value > maxLog) maxLog = value;
    logBinomial.add(Math.log((n - v) / (v + 1)));
  }
  if (maxLog === -Infinity) return 0;
  const scaled = new NeumaierSum();
  for (let v = 0; v < terms; v++) scaled.add(Math.exp(logTerms[v] - maxLog));
  return clip01(Math.exp(Math.log(x) + maxLog + Math.log(scaled.value)));
}

/** log(n!/nⁿ) by Stirling's series with the n·log(n) terms cancelled analytically. */
const STIRLING: readonly number[] = [
  -2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3,
  8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4,
  -2.7777777777777777778e-3, 8.3333333333333333333e-2,
];

function logFactorialOverPower(n: number): number {
  const rn = 1 / n;
  const t = rn / n;
  let poly = 0;
  for (const c of STIRLING) poly = poly * t + c;
  return Math.log(n) / 2 - n + LOG_2PI / 2 + rn * poly;
}

/** Square matrix product (row-major, size m). */
function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      const rowB = k * m;
      const rowOut = i * m;
      for (let j = 0; j < m; j++) out[rowOut + j] += aik * b[rowB + j];
    }
  }
  return out;
}

/**
 * P(Dₙ ≤ d) by Durbin's matrix method as organised by Marsaglia, Tsang & Wang (2003):
 * with d = (k − h)/n, the k-th diagonal entry of (n!/nⁿ)·Hⁿ for an m×m matrix H, m = 2k − 1,
 * with explicit binary exponents carried alongside to avoid overflow.
 */
function kolmogornDurbin(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;

  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;

  let H: Float64Array<ArrayBuffer> = new Float64Array(m * m);
  for (let i = 1; i < m; i++) {
    for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)];
  }
  for (let r = 0; r < m; r++) H[r * m] = v[r];
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c];

  let power: Float64Array<ArrayBuffer> = new Float64Array(m * m);
  for (let i = 0; i < m; i++) power[i * m + i] = 1;
  let remaining = n;
  let exponent = 0;
  let hExponent = 0;
  while (remaining > 0) {
    if (remaining % 2 === 1) {
      power = matmul(power, H, m);
      exponent += hExponent;
    }
    H = matmul(H, H, m);
    hExponent *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]) > EP128) {
      for (let i = 0; i < H.length; i++) H[i] /= EP128;
      hExponent += E128;
    }
    remaining = Math.floor(remaining / 2);
  }

  let p = power[(k - 1) * m + (k - 1)];
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= EP128;
      exponent -= E128;
    }
  }
  if (exponent !== 0) p = ldexp(p, exponent);
  return clip01(p);
}

function pomeranzBounds(i: number, n: number, ll: number, ceilF: number, roundF: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilF - 1;
    j2 = ll + ceilF - 1;
  } else {
    const half = Math.floor((i + 1) / 2);
    if ((i + 1) % 2 === 0) {
      if (half === n + 1) {
        j1 = n - ll - ceilF - 1;
        j2 = n + ll + ceilF - 1;
      } else {
        j1 = half - 1 - ll - roundF - 1;
        j2 = half + ll - 1 + ceilF - 1;
      }
    } else {
      j1 = half - 1 - ll - 1;
      j2 = half + ll + roundF - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/**
 * P(Dₙ ≤ x) by Pomeranz's (1974) recursion: 2n + 1 convolutions of a short row with scaled
 * Poisson weights, keeping only the entries that can be non-zero, with explicit exponents.
 */
function kolmogornPomeranz(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilF = f > 0 ? 1 : 0;
  const roundF = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  const gPower = new Float64Array(npwrs);
  const twoGPower = new Float64Array(npwrs);
  const oneMinusTwoGPower = new Float64Array(npwrs);
  gPower[0] = 1;
  twoGPower[0] = 1;
  oneMinusTwoGPower[0] = 1;
  const gOverN = g / n;
  const twoGOverN = (2 * g) / n;
  const oneMinusTwoGOverN = (1 - 2 * g) / n;
  for (let m = 1; m < npwrs; m++) {
    gPower[m] = (gPower[m - 1] * gOverN) / m;
    twoGPower[m] = (twoGPower[m - 1] * twoGOverN) / m;
    oneMinusTwoGPower[m] = (oneMinusTwoGPower[m - 1] * oneMinusTwoGOverN) / m;
  }

  let v0 = new Float64Array(npwrs);
  let v1 = new Float64Array(npwrs);
  v1[0] = 1;
  let v0Start = 0;
  let v1Start = 0;
  let exponent = 0;
  let [j1, j2] = pomeranzBounds(0, n, ll, ceilF, roundF);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [v0, v1] = [v1, v0];
    [v0Start, v1Start] = [v1Start, v0Start];
    v1.fill(0);
    [j1, j2] = pomeranzBounds(i, n, ll, ceilF, roundF);
    const powers = i === 1 || i === 2 * n + 1 ? gPower : i % 2 === 1 ? twoGPower : oneMinusTwoGPower;
    const len = j2 - k1 + 1;
    if (len > 0) {
      const from = k1 - v0Start;
      if (from < 0) throw new Error('Pomeranz recursion: negative row offset');
      const aLen = Math.min(from + len, npwrs) - from; // a slice past the end is truncated
      const convStart = j1 - k1;
      const convLen = j2 - j1 + 1;
      // Entries convStart .. convStart+convLen−1 of the full convolution of
      // v0[from .. from+aLen) with powers[0 .. len).
      for (let c = 0; c < convLen; c++) {
        const idx = convStart + c;
        let s = 0;
        const lowA = Math.max(0, idx - (len - 1));
        const highA = Math.min(aLen - 1, idx);
        for (let a = lowA; a <= highA; a++) s += v0[from + a] * powers[idx - a];
        v1[c] = s;
      }
      let max = -Infinity;
      for (let c = 0; c < npwrs; c++) if (v1[c] > max) max = v1[c];
      if (max > 0 && max < EM128) {
        for (let c = 0; c < npwrs; c++) v1[c] *= EP128;
        exponent -= E128;
      }
      v1Start = v0Start + j1 - k1;
    }
  }
  let answer = v1[n - v1Start];
  for (let m = 1; m <= n; m++) {
    if (Math.abs(answer) > EP128) {
      answer *= EM128;
      exponent += E128;
    }
    answer *= m;
  }
  if (exponent !== 0) answer = ldexp(answer, exponent);
  return clip01(answer);
}

/**
 * Pelz–Good (1976) approximation to P(Dₙ ≤ x): the Li-Chien/Korolyuk expansion
 * K₀(z) + K₁(z)/√n + K₂(z)/n + K₃(z)/n^1.5 in z = x√n, transformed with Jacobi theta identities
 * into series that converge fast for small z. Not clipped (SciPy clips afterwards).
 */
function kolmogornPelzGood(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z3 = z ** 3;
  const z4 = z ** 4;
  const z6 = z ** 6;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = Math.exp(qlog);

  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;

  const K = [0, 0, 0, 0];
  const maxK = Math.ceil((16 * z) / Math.PI);
  for (let k = maxK; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m ** 4;
    const m6 = m ** 6;
    const qPower = q ** (8 * k);
    K[0] = K[0] * qPower + 1;
    K[1] = K[1] * qPower + (k1a + k1b * m2);
    K[2] = K[2] * qPower + (k2a + k2b * m2 + k2c * m4);
    K[3] = K[3] * qPower + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
  }
  const divisors = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT2PI) / divisors[i];

  q = Math.exp(-PI2 / 2 / z2);
  const sqrt3z = SQRT3 * z;
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxK; k > 0; k--) {
    const k2 = k * k;
    const qp = q ** k2;
    const kpi = Math.PI * k;
    k2extra += k2 * qp;
    k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qp;
  }
  K[2] += k2extra * ((PI2 * SQRT2PI) / (-36 * z3));
  K[3] += k3extra * ((PI2 * SQRT2PI) / (216 * z6));
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i] / n ** (i / 2);
  return sum;
}

/** Both tails of the two-sided one-sample KS distribution, chosen per region (Simard–L'Ecuyer). */
function kolmogn(n: number, x: number, wantCdf: boolean): number {
  if (!(Number.isInteger(n) && n > 0) || Number.isNaN(x)) return Number.NaN;
  const pick = (cdf: number, sf: number): number => clip01(wantCdf ? cdf : sf);
  if (x >= 1) return pick(1, 0);
  if (x <= 0) return pick(0, 1);
  const t = n * x;
  if (t <= 1) {
    // Ruben–Gambino: 1/(2n) ≤ x ≤ 1/n.
    if (t <= 0.5) return pick(0, 1);
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else {
      prob = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
    }
    return pick(prob, 1 - prob);
  }
  if (t >= n - 1) {
    const prob = 2 * (1 - x) ** n; // Ruben–Gambino
    return pick(1 - prob, prob);
  }
  if (x >= 0.5) {
    const prob = 2 * smirnovSf(n, x); // D⁺ and D⁻ cannot both exceed 1/2
    return pick(1 - prob, prob);
  }
  const nxSquared = t * x;
  if (n <= 140) {
    if (nxSquared <= 0.754693) {
      const p = kolmogornDurbin(n, x);
      return pick(p, 1 - p);
    }
    if (nxSquared <= 4) {
      const p = kolmogornPomeranz(n, x);
      return pick(p, 1 - p);
    }
    const prob = 2 * smirnovSf(n, x);
    return pick(1 - prob, prob);
  }
  if (!wantCdf) {
    if (nxSquared >= 370) return 0;
    if (nxSquared >= 2.2) return clip01(2 * smirnovSf(n, x));
  }
  let cdf: number;
  if (nxSquared >= 18) cdf = 1;
  else if (n <= 100000 && n * x ** 1.5 <= 1.4) cdf = kolmogornDurbin(n, x);
  else cdf = kolmogornPelzGood(n, x);
  return pick(cdf, 1 - cdf);
}

/** P(Dₙ > d) for the two-sided one-sample KS statistic with n observations (`scipy.stats.kstwo.sf`). */
export function kstwoSf(n: number, d: number): number {
  return kolmogn(n, d, false);
}

/** P(Dₙ ≤ d) for the two-sided one-sample KS statistic with n observations (`scipy.stats.kstwo.cdf`). */
export function kstwoCdf(n: number, d: number): number {
  return kolmogn(n, d, true);
}
