/**
 * Risk-tier versions of the synthetic merchants (src/gen/card-transactions.ts): a table of
 * versions, each valid from its `valid_from` until the merchant's next one. Drawn from its own
 * random stream, so adding it changed none of the transactions, chargebacks or card limits a
 * seed gives.
 *
 * Model: every merchant (all `merchants` of the data set, `merchantId(0)` on) has a tier leaning
 * low (low 70 %, medium 22 %, high 8 %), or high for the merchants fraud bursts favour (low 10 %,
 * medium 35 %, high 55 %). The tier is drawn once for a version valid from 0 to 28 days before
 * the data start, then redrawn from the same lean at a mean of one redraw per 9 days up to the
 * snapshot end; a redraw that gives the tier the merchant has writes no version. That keeps each
 * merchant's tiers at its lean over time, and tiers change about once per 20 days (19.8 days for
 * ordinary merchants, 15.9 for high-risk ones), rare tiers the fastest. Each version's
 * tier_score is uniform in its tier's band of hundredths (low 0.00-0.33, medium 0.34-0.66, high
 * 0.67-1.00). Times are whole minutes.
 */
import { highRiskMerchants, merchantId } from './card-transactions.js';
import { AliasTable, SeededRandom } from './seeded-random.js';
import { DAY, sortVersions, versionTimes, type VersionSpan } from './versions.js';

export type RiskTier = 'low' | 'medium' | 'high';

export interface MerchantTier {
  merchant_id: string;
  /** Epoch ms from which this tier holds. */
  valid_from: number;
  risk_tier: RiskTier;
  /** Risk score in [0, 1], two decimals, within the tier's band (TIER_BANDS). */
  tier_score: number;
}

export interface MerchantTierOptions extends VersionSpan {
  /** The data set's number of merchants (the transactions' summary). */
  merchants: number;
}

/** The random stream of the tiers (1: the card world, 2: the events, 3: Avro sync markers, 4: card limits). */
const TIERS_STREAM = 5;
const TIERS: readonly RiskTier[] = ['low', 'medium', 'high'];
/** Each tier's scores in hundredths, inclusive, so a score alone gives its tier. */
export const TIER_BANDS: Readonly<Record<RiskTier, readonly [number, number]>> = {
  low: [0, 33],
  medium: [34, 66],
  high: [67, 100],
};
const ORDINARY_LEAN = [0.7, 0.22, 0.08];
const HIGH_RISK_LEAN = [0.1, 0.35, 0.55];

/** The versions of every merchant's risk tier, sorted by (valid_from, merchant_id): what the topic would hold. */
export function merchantTierVersions(opts: MerchantTierOptions): MerchantTier[] {
  const rng = new SeededRandom(opts.seed, TIERS_STREAM);
  const highRisk = new Set(highRiskMerchants(opts.seed, opts.merchants));
  const ordinary = new AliasTable(ORDINARY_LEAN);
  const risky = new AliasTable(HIGH_RISK_LEAN);
  const out: MerchantTier[] = [];
  for (let m = 0; m < opts.merchants; m++) {
    const merchant_id = merchantId(m);
    const lean = highRisk.has(m) ? risky : ordinary;
    let tier: RiskTier | null = null;
    for (const valid_from of versionTimes(rng, opts.start, opts.end, 9 * DAY)) {
      const next = TIERS[lean.sample(rng)]!;
      if (next === tier) continue;
      tier = next;
      const [lo, hi] = TIER_BANDS[tier];
      out.push({ merchant_id, valid_from, risk_tier: tier, tier_score: rng.int(lo, hi + 1) / 100 });
    }
  }
  return sortVersions(out, (v) => v.merchant_id);
}
