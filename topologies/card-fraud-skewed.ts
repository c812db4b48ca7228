/**
 * DELIBERATELY WRONG — demo material for `skewless demo skew`, never deploy this file.
 *
 * A copy of topologies/card-fraud.ts as a hand-written serving path typically drifts from the
 * training pipeline: same topology name, same output and columns, but three features are
 * computed differently (marked `SKEW BUG` below). `skewless demo skew` runs it live and checks
 * its served vectors with parity *against the correct topology* (card-fraud.ts), which must
 * alert and name txn_count_24h, amount_sum_24h and amount_mean_24h.
 *
 * Everything else is declared exactly as in card-fraud.ts, the merchant's features and risk
 * tier through the regrouping included: parity then finds those equal, so what it flags is the
 * deliberate bugs and nothing else.
 */
import { topology, type RowOf } from '../src/dsl/index.js';
import type { CardTransaction, Chargeback } from '../src/gen/card-transactions.js';
import type { MerchantTier } from '../src/gen/merchant-tiers.js';

/** How stale the merchant's features may be, as in card-fraud.ts. */
const MERCHANT_LAG = '1m';

const cardFraudSkewed = topology(
  'card-fraud',
  (t) => {
    const txns = t.source<CardTransaction>('transactions', {
      schema: '../schemas/card_transaction.avsc',
      key: (x) => x.card_id,
      eventTime: (x) => x.event_time,
      // Minutes-late events are absorbed; the few that arrive hours late go to the late sink.
      grace: '30m',
      late: 'sideOutput',
    });
    const chargebacks = t.source<Chargeback>('chargebacks', {
      schema: '../schemas/chargeback.avsc',
      key: (c) => c.card_id,
      eventTime: (c) => c.reported_at,
    });
    // A merchant's risk tier over time, keyed by merchant: its versions live where the merchant's features do.
    const merchantTiers = t.table<MerchantTier>('merchant_tiers', {
      schema: '../schemas/merchant_tier.avsc',
      key: (m) => m.merchant_id,
      validFrom: (m) => m.valid_from,
      retention: '7d',
      regroup: true,
    });
    const card = txns.groupBy('card', (x) => x.card_id);
    const merchant = txns.regroupBy('merchant', (x) => x.merchant_id);
    const tier = txns.asOf(merchantTiers, (x) => x.merchant_id, { lag: MERCHANT_LAG });

    const features = txns.features(
      'card_features',
      {
        txn_count_1h: card.lookback('1h').count(),
        // SKEW BUG (deliberate): the serving path counts over 23 hours instead of 24.
        txn_count_24h: card.lookback('23h').count(),
        // SKEW BUG (deliberate): the serving path includes the transaction being scored in its
        // own 24h sum and mean; training (card-fraud.ts) only sees the events before it.
        amount_sum_24h: card.lookback('24h', { includeCurrent: true }).sum((x) => x.amount_usd),
        amount_mean_24h: card.lookback('24h', { includeCurrent: true }).mean((x) => x.amount_usd),
        amount_max_7d: card.lookback('7d').max((x) => x.amount_usd),
        amount_mean_7d: card.lookback('7d').mean((x) => x.amount_usd),
        amount_std_7d: card.lookback('7d').stddev((x) => x.amount_usd),
        merchants_24h: card.lookback('24h').countDistinct((x) => x.merchant_id),
        minutes_since_prev: card.timeSinceLast('minutes'),
        merchant_txn_count_1h: merchant.lookback('1h', { asOf: MERCHANT_LAG }).count(),
        merchant_txn_count_24h: merchant.lookback('24h', { asOf: MERCHANT_LAG }).count(),
        merchant_amount_mean_1h: merchant.lookback('1h', { asOf: MERCHANT_LAG }).mean((x) => x.amount_usd),
        merchant_amount_mean_24h: merchant.lookback('24h', { asOf: MERCHANT_LAG }).mean((x) => x.amount_usd),
        merchant_risk_tier: tier.value((m) => m.risk_tier, { type: 'string' }),
        merchant_tier_score: tier.value((m) => m.tier_score),
      },
      {
        derive: {
          // How unusual this amount is for the card: the one feature that reads the current event.
          amount_zscore_7d: (v, x) =>
            v.amount_mean_7d === null || v.amount_std_7d === null || v.amount_std_7d === 0
              ? null
              : (x.amount_usd - v.amount_mean_7d) / v.amount_std_7d,
        },
        labelJoin: { from: chargebacks, on: (x) => x.txn_id, matchOn: (c) => c.txn_id, within: '45d', label: 'is_fraud' },
      },
    );
    // Daily spend per card in the bank's time zone (a DST day has 23 or 25 hours), emitted once the day closes.
    const daily = card.calendar('day', 'America/New_York', { emit: 'final' }).aggregate('card_daily_spend', (w) => ({
      txns: w.count(),
      amount: w.sum((x) => x.amount_usd),
      max_amount: w.max((x) => x.amount_usd),
      merchants: w.countDistinct((x) => x.merchant_id),
    }));
    return { features, daily };
  },
  { description: 'DELIBERATELY SKEWED copy of card-fraud for `skewless demo skew` (23h count, amounts including the current event).' },
);

export default cardFraudSkewed;

export type SkewedCardFeatureRow = RowOf<typeof cardFraudSkewed, 'features'>;
