/**
 * Seeded synthetic card-transaction generator (pure, deterministic: same options → identical
 * output, no wall clock, no Math.random).
 *
 * Model
 * - Cards have log-normally distributed activity (a few heavy users, many light ones), a home
 *   country (mostly US), a typical spend (log-normal median, per-card spread), a pool of
 *   favourite merchants (3–12, popularity-weighted) and an occasional multi-day trip abroad.
 * - Legitimate swipes form a non-homogeneous Poisson process per card (thinning) with daily
 *   seasonality in the card's home time zone (quiet at night, peaks at lunch and early
 *   evening) and a mild weekly pattern.
 * - Fraud bursts: a stolen card makes 3–10 larger transactions 20 s–7 min apart at new merchants
 *   (often high-risk ones), 65 % of bursts abroad, at any hour; a third start with a tiny
 *   "card test" amount.
 * - Arrival (what a Kafka topic would contain): arrival = event_time + delay, where delay is
 *   0–100 ms network jitter for most records, 1–10 min for `lateMinutesRate` of them and
 *   1–30 h for `lateHoursRate` of them. Output is sorted by (arrival, generation sequence).
 *   Generation stops once `events` transactions have *arrived*; the snapshot end is the arrival
 *   time of the last one, so records swiped before the end but still in flight are absent, as
 *   in a real topic.
 * - Chargebacks: 90 % of bursts are reported by the cardholder, and then 95 % of the burst's
 *   transactions get a chargeback, 1–40 days after the transaction (skewed towards the first two
 *   weeks, always after the transaction's arrival). A tiny rate of legitimate transactions
 *   gets a (false / friendly-fraud) chargeback 3–40 days later. Only chargebacks reported by the
 *   snapshot end are emitted, so recent labels are not yet mature.
 *
 * - Amounts are drawn in US dollars, billed in the currency of the country where the card is
 *   used (`amount`, `currency`) and converted back at the fixed rates of UNITS_PER_USD
 *   (`amount_usd`), so features can add up a card's spending in one currency.
 *
 * Partitioning is not decided here: the record key is `card_id`, and consumers partition with
 * Kafka's murmur2 partitioner.
 */
import { AliasTable, SeededRandom, mix32, seedWord } from './seeded-random.js';
import { MinHeap } from './min-heap.js';

export interface CardTransaction {
  txn_id: string;
  card_id: string;
  merchant_id: string;
  /** In `currency`, 2 decimals. */
  amount: number;
  currency: string;
  /** `amount` in US dollars at the fixed rate of `currency` (UNITS_PER_USD), 2 decimals: sums and maxima across countries mean something. */
  amount_usd: number;
  /** Epoch ms when the card was swiped. */
  event_time: number;
  /** ISO 3166-1 alpha-2 country of the transaction. */
  country: string;
}

export interface Chargeback {
  txn_id: string;
  card_id: string;
  /** Epoch ms when the chargeback was reported (its arrival time). */
  reported_at: number;
  reason: string;
}

export interface CardGenOptions {
  /** Number of transactions to emit. */
  events: number;
  seed: number;
  /** Default max(20, round(events / 100)): about 100 transactions per card, ~2 months of data. */
  cards?: number;
  /** Default max(50, round(cards / 4)). */
  merchants?: number;
  /**
   * Accepted for convenience, unused: the generator never assigns partitions. Records are keyed
   * by card_id and partitioned by the consumer (Kafka murmur2).
   */
  partitions?: number;
  /** Epoch ms of the data start, default 2026-01-05T00:00:00Z. */
  start?: number;
  /** Mean legitimate transactions per card per day, default 1.5. */
  txnsPerCardPerDay?: number;
  /** Share of records that arrive 1–10 min late, default 0.03. */
  lateMinutesRate?: number;
  /** Share of records that arrive 1–30 h late, default 0.003. */
  lateHoursRate?: number;
  /** Fraud bursts started per legitimate transaction, default 0.0009 (≈0.6 % fraud). */
  fraudBurstRate?: number;
  /** Share of legitimate transactions with a false chargeback, default 0.0005. */
  falseChargebackRate?: number;
}

export interface TransactionItem {
  topic: 'transactions';
  /** Epoch ms when the record reached the topic. */
  arrival: number;
  value: CardTransaction;
  /** Ground truth: part of a fraud burst. */
  fraud: boolean;
}

export interface ChargebackItem {
  topic: 'chargebacks';
  /** Equals value.reported_at. */
  arrival: number;
  value: Chargeback;
  /** Ground truth: the charged-back transaction was fraudulent (false → false chargeback). */
  fraud: boolean;
}

export type CardStreamItem = TransactionItem | ChargebackItem;

export interface CardGenSummary {
  events: number;
  chargebacks: number;
  fraudTransactions: number;
  fraudChargebacks: number;
  falseChargebacks: number;
  cards: number;
  merchants: number;
  start: number;
  /** Arrival time of the last transaction: the snapshot end / label maturity reference. */
  endTime: number;
  /** Largest event_time among emitted transactions. */
  maxEventTime: number;
}

export const DEFAULT_START = Date.UTC(2026, 0, 5); // 2026-01-05T00:00:00Z

/** The id of card number c (0-based), the record key of its transactions. */
export function cardId(c: number): string {
  return `card-${String(c).padStart(6, '0')}`;
}

/** The id of merchant number m (0-based), the merchant_id of its transactions. */
export function merchantId(m: number): string {
  return `mer-${String(m).padStart(5, '0')}`;
}

interface Merchants {
  ids: string[];
  /** Price level (multiplies a card's typical spend). */
  price: Float64Array;
  popularity: Float64Array;
  /** Merchant numbers that fraud bursts favour (never empty). */
  highRisk: number[];
}

/**
 * Draws the merchants from the world stream. The cards are drawn from the same stream right
 * after, so the number and order of draws here must stay as they are for a seed's data to stay.
 */
function drawMerchants(world: SeededRandom, n: number): Merchants {
  const ids: string[] = new Array(n);
  const price = new Float64Array(n);
  const popularity = new Float64Array(n);
  const highRisk: number[] = [];
  for (let m = 0; m < n; m++) {
    ids[m] = merchantId(m);
    price[m] = world.logNormal(0, 0.6);
    popularity[m] = 1 / Math.pow(1 + world.next() * n, 0.9); // Zipf-like, shuffled
    if (world.chance(0.04)) highRisk.push(m);
  }
  if (highRisk.length === 0) highRisk.push(n - 1);
  return { ids, price, popularity, highRisk };
}

/**
 * The merchants fraud bursts favour (55 % of fraudulent transactions go to one of them) in the
 * data set of `seed` with `merchants` merchants (the summary's count), by merchant number.
 */
export function highRiskMerchants(seed: number, merchants: number): number[] {
  return drawMerchants(new SeededRandom(seed, 1), positiveInt('merchants', merchants)).highRisk;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Units of each currency per US dollar: fixed, illustrative rates (about early 2024), the
 * same for the whole data set so that `amount_usd` is deterministic. Documented in the README.
 */
export const UNITS_PER_USD: Readonly<Record<string, number>> = {
  USD: 1,
  CAD: 1.36,
  GBP: 0.79,
  EUR: 0.92,
  MXN: 17.1,
  JPY: 149,
  BRL: 4.95,
  NGN: 1500,
  RON: 4.6,
  RUB: 90,
  UAH: 38,
  TRY: 31,
  INR: 83,
  CNY: 7.2,
  IDR: 15600,
  PHP: 56,
};

interface CountryInfo {
  /** ISO 4217 code, a key of UNITS_PER_USD. */
  currency: string;
  /** Fixed UTC offset in hours (no DST, good enough for a daily profile). */
  utcOffset: number;
}

const COUNTRIES: Record<string, CountryInfo> = {
  US: { currency: 'USD', utcOffset: -5 },
  CA: { currency: 'CAD', utcOffset: -5 },
  GB: { currency: 'GBP', utcOffset: 0 },
  DE: { currency: 'EUR', utcOffset: 1 },
  FR: { currency: 'EUR', utcOffset: 1 },
  ES: { currency: 'EUR', utcOffset: 1 },
  IT: { currency: 'EUR', utcOffset: 1 },
  NL: { currency: 'EUR', utcOffset: 1 },
  MX: { currency: 'MXN', utcOffset: -6 },
  JP: { currency: 'JPY', utcOffset: 9 },
  BR: { currency: 'BRL', utcOffset: -3 },
  NG: { currency: 'NGN', utcOffset: 1 },
  RO: { currency: 'RON', utcOffset: 2 },
  RU: { currency: 'RUB', utcOffset: 3 },
  UA: { currency: 'UAH', utcOffset: 2 },
  TR: { currency: 'TRY', utcOffset: 3 },
  IN: { currency: 'INR', utcOffset: 5.5 },
  CN: { currency: 'CNY', utcOffset: 8 },
  ID: { currency: 'IDR', utcOffset: 7 },
  PH: { currency: 'PHP', utcOffset: 8 },
};

const HOME_COUNTRIES: readonly [string, number][] = [
  ['US', 0.85], ['CA', 0.04], ['GB', 0.03], ['DE', 0.02], ['FR', 0.02], ['MX', 0.02],
  ['ES', 0.01], ['IT', 0.01],
];
const TRAVEL_COUNTRIES: readonly [string, number][] = [
  ['US', 0.2], ['CA', 0.12], ['MX', 0.15], ['GB', 0.12], ['FR', 0.1], ['IT', 0.08],
  ['ES', 0.08], ['DE', 0.06], ['NL', 0.03], ['JP', 0.06],
];
const FRAUD_COUNTRIES: readonly [string, number][] = [
  ['NG', 0.12], ['RO', 0.1], ['BR', 0.1], ['RU', 0.1], ['UA', 0.08], ['CN', 0.08],
  ['IN', 0.07], ['TR', 0.07], ['ID', 0.06], ['PH', 0.06], ['GB', 0.06], ['MX', 0.05],
  ['NL', 0.05],
];

const FRAUD_REASONS_CNP = ['fraud_card_not_present', 'fraud_card_not_present', 'unauthorized'];
const FRAUD_REASONS_CP = ['fraud_card_present', 'counterfeit', 'unauthorized'];
const FALSE_REASONS = [
  'goods_not_received',
  'not_as_described',
  'duplicate_processing',
  'unrecognized_transaction',
  'cancelled_recurring',
];

/** Relative activity by local hour 0..23 (linearly interpolated). */
const HOURLY = [
  0.25, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.6, 0.9, 1.0, 1.05, 1.15,
  1.3, 1.2, 1.05, 1.0, 1.05, 1.2, 1.35, 1.3, 1.1, 0.85, 0.6, 0.4,
];
/** Relative activity by local weekday, 0 = Sunday. */
const WEEKDAY = [0.85, 0.95, 0.97, 1.0, 1.02, 1.1, 1.12];
const SEASON_MAX = Math.max(...HOURLY) * Math.max(...WEEKDAY);
const SEASON_MEAN =
  (HOURLY.reduce((a, b) => a + b, 0) / HOURLY.length) * (WEEKDAY.reduce((a, b) => a + b, 0) / WEEKDAY.length);

/** Seasonal intensity at epoch ms t for a card whose home has the given UTC offset (ms). */
export function seasonality(t: number, offsetMs: number): number {
  const local = t + offsetMs;
  const dayIndex = Math.floor(local / DAY);
  const h = (local - dayIndex * DAY) / HOUR; // [0, 24)
  const h0 = Math.floor(h);
  const frac = h - h0;
  const v = HOURLY[h0]! * (1 - frac) + HOURLY[(h0 + 1) % 24]! * frac;
  const weekday = (((dayIndex + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
  return v * WEEKDAY[weekday]!;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function rate(name: string, v: number): number {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}`);
  return v;
}

interface PendingTxn {
  key: number; // arrival
  seq: number;
  value: CardTransaction;
  fraud: boolean;
}

interface PendingChargeback {
  key: number; // reported_at
  seq: number;
  value: Chargeback;
  fraud: boolean;
}

interface Burst {
  card: number;
  country: string;
  /** The burst happens abroad (its transactions may hop between fraud countries). */
  foreign: boolean;
  testFirst: boolean;
  /** Base report time, or -1 when the cardholder never disputes. */
  reportBase: number;
}

interface PendingFraud {
  key: number; // event time
  seq: number;
  burst: Burst;
  index: number;
}

function countryTable(list: readonly [string, number][]): { codes: string[]; alias: AliasTable } {
  return { codes: list.map(([c]) => c), alias: new AliasTable(list.map(([, w]) => w)) };
}

/**
 * Yields transactions and chargebacks merged in arrival order (a chargeback reported at the same
 * millisecond as a transaction's arrival comes first). Memory stays bounded by the in-flight
 * window (≤ 30 h of late records plus pending labels), so it streams any number of events.
 * The generator's return value is a summary.
 */
export function* cardEventStream(opts: CardGenOptions): Generator<CardStreamItem, CardGenSummary, undefined> {
  const events = opts.events;
  if (!Number.isInteger(events) || events < 0) throw new RangeError(`events must be a non-negative integer, got ${events}`);
  const seed = opts.seed;
  seedWord(seed); // validates
  const nCards = positiveInt('cards', opts.cards ?? Math.max(20, Math.round(events / 100)));
  const nMerchants = positiveInt('merchants', opts.merchants ?? Math.max(50, Math.round(nCards / 4)));
  const start = opts.start ?? DEFAULT_START;
  if (!Number.isInteger(start)) throw new RangeError(`start must be an integer epoch ms, got ${start}`);
  const perCardPerDay = opts.txnsPerCardPerDay ?? 1.5;
  if (!(perCardPerDay > 0)) throw new RangeError(`txnsPerCardPerDay must be > 0`);
  const lateMinutes = rate('lateMinutesRate', opts.lateMinutesRate ?? 0.03);
  const lateHours = rate('lateHoursRate', opts.lateHoursRate ?? 0.003);
  if (lateMinutes + lateHours > 1) throw new RangeError('lateMinutesRate + lateHoursRate must be ≤ 1');
  const burstRate = rate('fraudBurstRate', opts.fraudBurstRate ?? 0.0009);
  const falseCbRate = rate('falseChargebackRate', opts.falseChargebackRate ?? 0.0005);

  // ---- static world: merchants and cards (own random stream, independent of `events`) ----
  const world = new SeededRandom(seed, 1);
  const { ids: merchantIds, price: merchantPrice, popularity: merchantPopularity, highRisk } = drawMerchants(world, nMerchants);
  const merchantAlias = new AliasTable(merchantPopularity);

  const home = countryTable(HOME_COUNTRIES);
  const travel = countryTable(TRAVEL_COUNTRIES);
  const fraudC = countryTable(FRAUD_COUNTRIES);

  const MAX_FAV = 12;
  const cardIds: string[] = new Array(nCards);
  const cardWeight = new Float64Array(nCards);
  const cardHome: string[] = new Array(nCards);
  const cardOffset = new Float64Array(nCards);
  const cardMedian = new Float64Array(nCards); // USD
  const cardSigma = new Float64Array(nCards);
  const cardFavP = new Float64Array(nCards);
  const cardTripP = new Float64Array(nCards);
  const favCount = new Uint8Array(nCards);
  const fav = new Int32Array(nCards * MAX_FAV);
  const tripEnd = new Float64Array(nCards);
  const tripCountry: string[] = new Array(nCards);
  for (let c = 0; c < nCards; c++) {
    cardIds[c] = cardId(c);
    cardWeight[c] = world.logNormal(0, 1.0);
    const h = home.codes[home.alias.sample(world)]!;
    cardHome[c] = h;
    cardOffset[c] = COUNTRIES[h]!.utcOffset * HOUR;
    cardMedian[c] = world.logNormal(Math.log(35), 0.55);
    cardSigma[c] = world.float(0.45, 0.9);
    cardFavP[c] = world.float(0.65, 0.9);
    const u = world.next();
    cardTripP[c] = 0.012 * u * u * u; // most cards rarely travel, a few often
    const k = 3 + world.int(0, MAX_FAV - 2); // 3..12
    let n = 0;
    for (let tries = 0; n < k && tries < 4 * k; tries++) {
      const m = merchantAlias.sample(world);
      let dup = false;
      for (let j = 0; j < n; j++) if (fav[c * MAX_FAV + j] === m) dup = true;
      if (!dup) fav[c * MAX_FAV + n++] = m;
    }
    favCount[c] = n;
    tripEnd[c] = -Infinity;
    tripCountry[c] = h;
  }
  const cardAlias = new AliasTable(cardWeight);

  // ---- event process ----
  const rng = new SeededRandom(seed, 2);
  const idKey = mix32(seedWord(seed) ^ 0x2545f491);
  // Candidate rate (per ms) such that after thinning the mean rate is perCardPerDay per card.
  const candidateMeanGap = (DAY * SEASON_MEAN) / (nCards * perCardPerDay * SEASON_MAX);

  const arrivals = new MinHeap<PendingTxn>();
  const reports = new MinHeap<PendingChargeback>();
  const frauds = new MinHeap<PendingFraud>();
  let genSeq = 0;
  let cbSeq = 0;
  let fraudSeq = 0;

  const summary: CardGenSummary = {
    events: 0,
    chargebacks: 0,
    fraudTransactions: 0,
    fraudChargebacks: 0,
    falseChargebacks: 0,
    cards: nCards,
    merchants: nMerchants,
    start,
    endTime: start,
    maxEventTime: start,
  };

  const delayOf = (): number => {
    const u = rng.next();
    if (u < lateHours) return Math.floor(rng.float(HOUR, 30 * HOUR));
    if (u < lateHours + lateMinutes) return Math.floor(rng.float(MINUTE, 10 * MINUTE));
    return Math.floor(rng.float(0, 100));
  };

  const emit = (value: CardTransaction, fraud: boolean, cb: ((arrival: number) => void) | null): number => {
    const arrival = value.event_time + delayOf();
    arrivals.push({ key: arrival, seq: genSeq++, value, fraud });
    if (cb) cb(arrival);
    return arrival;
  };

  const pushChargeback = (value: Chargeback, fraud: boolean): void => {
    reports.push({ key: value.reported_at, seq: cbSeq++, value, fraud });
  };

  /** The money fields of a transaction of `usd` dollars made in `country`. */
  const priced = (usd: number, country: string): Pick<CardTransaction, 'amount' | 'currency' | 'amount_usd'> => {
    const currency = COUNTRIES[country]!.currency;
    const rate = UNITS_PER_USD[currency]!;
    const local = round2(usd * rate);
    const amount = local > 0 ? local : 0.01;
    // Converted back from the billed amount, as a ledger would: anyone can recompute it from amount and currency.
    return { amount, currency, amount_usd: round2(amount / rate) };
  };

  const legit = (c: number, t: number): void => {
    const h = cardHome[c]!;
    let country = h;
    let merchant: number;
    if (t < tripEnd[c]!) {
      if (rng.chance(0.85)) country = tripCountry[c]!;
    } else if (rng.chance(cardTripP[c]!)) {
      let dest = travel.codes[travel.alias.sample(rng)]!;
      if (dest === h) dest = h === 'GB' ? 'FR' : 'GB';
      tripCountry[c] = dest;
      tripEnd[c] = t + rng.float(2 * DAY, 10 * DAY);
      country = dest;
    }
    if (country === h && rng.chance(cardFavP[c]!)) {
      let k = 0;
      const n = favCount[c]!;
      while (k < n - 1 && rng.chance(0.35)) k++;
      merchant = fav[c * MAX_FAV + k]!;
    } else {
      merchant = merchantAlias.sample(rng);
    }
    let usd = cardMedian[c]! * merchantPrice[merchant]! * Math.exp(rng.normal(0, cardSigma[c]!));
    if (usd < 0.5) usd = 0.5 + rng.next();
    if (usd > 25000) usd = 25000;
    const seq = genSeq;
    const value: CardTransaction = {
      txn_id: `tx-${hex8(mix32(seq ^ idKey))}`,
      card_id: cardIds[c]!,
      merchant_id: merchantIds[merchant]!,
      ...priced(usd, country),
      event_time: t,
      country,
    };
    const falseCb = rng.chance(falseCbRate);
    emit(value, false, falseCb
      ? (arrival) => {
          const reported = Math.max(t + Math.floor(rng.float(3 * DAY, 40 * DAY)), arrival + HOUR);
          pushChargeback(
            { txn_id: value.txn_id, card_id: value.card_id, reported_at: reported, reason: rng.pick(FALSE_REASONS) },
            false,
          );
        }
      : null);
  };

  const scheduleBurst = (t: number): void => {
    const c = rng.int(0, nCards);
    const foreign = rng.chance(0.65);
    let country = cardHome[c]!;
    if (foreign) {
      country = fraudC.codes[fraudC.alias.sample(rng)]!;
      if (country === cardHome[c]) country = 'NG';
    }
    const startAt = t + Math.floor(rng.float(0, 4 * HOUR));
    const u = rng.next();
    const burst: Burst = {
      card: c,
      country,
      foreign,
      testFirst: rng.chance(0.35),
      reportBase: rng.chance(0.9) ? startAt + DAY + Math.floor((39 * DAY - 9 * HOUR) * Math.pow(u, 1.8)) : -1,
    };
    const n = 3 + rng.int(0, 8); // 3..10
    let at = startAt;
    for (let i = 0; i < n; i++) {
      if (i > 0) at += Math.floor(rng.float(20 * SECOND, 7 * MINUTE));
      frauds.push({ key: at, seq: fraudSeq++, burst, index: i });
    }
  };

  const fraud = (f: PendingFraud): void => {
    const b = f.burst;
    const c = b.card;
    const t = f.key;
    let country = b.country;
    if (b.foreign && f.index > 0 && rng.chance(0.2)) country = fraudC.codes[fraudC.alias.sample(rng)]!;
    const merchant = rng.chance(0.55) ? highRisk[rng.int(0, highRisk.length)]! : rng.int(0, nMerchants);
    let usd: number;
    if (f.index === 0 && b.testFirst) usd = rng.float(0.5, 2.5);
    else usd = Math.min(9999, Math.max(cardMedian[c]! * rng.float(2, 10), rng.logNormal(Math.log(180), 0.8)));
    const seq = genSeq;
    const value: CardTransaction = {
      txn_id: `tx-${hex8(mix32(seq ^ idKey))}`,
      card_id: cardIds[c]!,
      merchant_id: merchantIds[merchant]!,
      ...priced(usd, country),
      event_time: t,
      country,
    };
    const reported = b.reportBase >= 0 && rng.chance(0.95);
    emit(value, true, reported
      ? (arrival) => {
          const at = Math.max(b.reportBase + Math.floor(rng.float(0, 8 * HOUR)), t + DAY, arrival + HOUR);
          const reasons = country !== cardHome[c] || rng.chance(0.6) ? FRAUD_REASONS_CNP : FRAUD_REASONS_CP;
          pushChargeback(
            { txn_id: value.txn_id, card_id: value.card_id, reported_at: at, reason: rng.pick(reasons) },
            true,
          );
        }
      : null);
  };

  let candidate = start + rng.exponential(candidateMeanGap);
  let lastYielded = start;
  while (summary.events < events) {
    if (genSeq >= 0xffffffff) throw new RangeError('too many events for 32-bit transaction ids');
    const next = frauds.peek();
    let tGen: number;
    if (next !== undefined && next.key <= candidate) {
      frauds.pop();
      tGen = next.key;
      fraud(next);
    } else {
      const t = candidate;
      candidate += rng.exponential(candidateMeanGap);
      const c = cardAlias.sample(rng);
      if (!rng.chance(seasonality(t, cardOffset[c]!) / SEASON_MAX)) continue;
      tGen = Math.floor(t);
      legit(c, tGen);
      if (rng.chance(burstRate)) scheduleBurst(tGen);
    }
    // Everything generated later arrives at or after tGen (with a larger sequence number), so all
    // pending records with arrival <= tGen are final in arrival order.
    for (let top = arrivals.peek(); top !== undefined && top.key <= tGen && summary.events < events; top = arrivals.peek()) {
      arrivals.pop();
      for (let cb = reports.peek(); cb !== undefined && cb.key <= top.key; cb = reports.peek()) {
        reports.pop();
        summary.chargebacks++;
        if (cb.fraud) summary.fraudChargebacks++;
        else summary.falseChargebacks++;
        yield { topic: 'chargebacks', arrival: cb.key, value: cb.value, fraud: cb.fraud };
      }
      summary.events++;
      if (top.fraud) summary.fraudTransactions++;
      if (top.value.event_time > summary.maxEventTime) summary.maxEventTime = top.value.event_time;
      lastYielded = top.key;
      yield { topic: 'transactions', arrival: top.key, value: top.value, fraud: top.fraud };
    }
  }
  summary.endTime = lastYielded;
  return summary;
}

/**
 * Collects the stream into arrays (arrival order). Fine up to a few million events; for more,
 * iterate `cardEventStream` directly.
 */
export function generateCardTransactions(opts: CardGenOptions): {
  transactions: CardTransaction[];
  chargebacks: Chargeback[];
  /** Ground truth: txn_ids of fraudulent transactions. */
  fraudTxnIds: Set<string>;
  /** Arrival time of each transaction, parallel to `transactions`. */
  arrivals: number[];
  summary: CardGenSummary;
} {
  const transactions: CardTransaction[] = [];
  const chargebacks: Chargeback[] = [];
  const arrivals: number[] = [];
  const fraudTxnIds = new Set<string>();
  const it = cardEventStream(opts);
  for (;;) {
    const r = it.next();
    if (r.done) return { transactions, chargebacks, fraudTxnIds, arrivals, summary: r.value };
    const item = r.value;
    if (item.topic === 'transactions') {
      transactions.push(item.value);
      arrivals.push(item.arrival);
      if (item.fraud) fraudTxnIds.add(item.value.txn_id);
    } else {
      chargebacks.push(item.value);
    }
  }
}
