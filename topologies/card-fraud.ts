/**
 * Card-fraud features per card and per merchant, on the synthetic transactions of `skewless
 * generate card-transactions`. Chargebacks arrive days later and label the training rows.
 * Transactions are partitioned by card; the merchant's features and risk tier come through a
 * regrouping, as of one minute before the transaction.
 */
import { topology, type RowOf } from '../src/dsl/index.js';
import type { CardTransaction, Chargeback } from '../src/gen/card-transactions.js';
import type { MerchantTier } from '../src/gen/merchant-tiers.js';

// The record types of the synthetic data set (src/gen) are the source value types.
export type { CardTransaction, Chargeback } from '../src/gen/card-transactions.js';
export type { MerchantTier } from '../src/gen/merchant-tiers.js';

/** How stale the merchant's features may be: they cover its transactions up to t − 1 min. */
const MERCHANT_LAG = '1m';

const cardFraud = topology(
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
    const card = txns.groupBy('card', (x) => x.card_id);
    // #region merchant-tier
    // The merchant's features: transactions are keyed by card, so they are computed where the merchant is.
    const merchant = txns.regroupBy('merchant', (x) => x.merchant_id);
    // A merchant's risk tier over time, keyed by merchant: its versions live where the merchant's features do.
    const merchantTiers = t.table<MerchantTier>('merchant_tiers', {
      schema: '../schemas/merchant_tier.avsc',
      key: (m) => m.merchant_id,
      validFrom: (m) => m.valid_from,
      retention: '7d',
      regroup: true, // keyed by another entity than the transactions
    });
    // The version valid 1 minute before the transaction (MERCHANT_LAG = '1m').
    const tier = txns.asOf(merchantTiers, (x) => x.merchant_id, { lag: MERCHANT_LAG });
    // #endregion merchant-tier

    // Amounts are read in US dollars (amount_usd): `amount` is in each transaction's local currency.
    const features = txns.features(
      'card_features',
      {
        txn_count_1h: card.lookback('1h').count(),
        txn_count_24h: card.lookback('24h').count(),
        amount_sum_24h: card.lookback('24h').sum((x) => x.amount_usd),
        amount_mean_24h: card.lookback('24h').mean((x) => x.amount_usd),
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
  { description: "Velocity and amount features per card, the merchant's activity and risk tier as of 1 minute before; labels from chargebacks within 45 days." },
);

export default cardFraud;

export type CardFeatureRow = RowOf<typeof cardFraud, 'features'>;
