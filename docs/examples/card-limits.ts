/**
 * Card features with the card's credit limit as it was when the card was used: an as-of lookup
 * in the table of limit versions that `skewless generate card-transactions` writes beside the
 * transactions. The README shows the region below verbatim (test/unit/docs-snippets.test.ts
 * checks it, and tsc compiles this file).
 *
 *   npx skewless generate card-transactions --events 100000 --seed 7 --out data/cards --format avro
 *   npx skewless backfill docs/examples/card-limits.ts --partitions 4 --out out/card-limits \
 *       --input transactions=data/cards/transactions.avro --input card_limits=data/cards/card_limits.avro
 */
import { topology, type RowOf } from '../../src/dsl/index.js';
import type { CardLimit } from '../../src/gen/card-limits.js';
import type { CardTransaction } from '../../src/gen/card-transactions.js';

const cardLimits = topology(
  'card-limits',
  (t) => {
    // #region card-limits
    const txns = t.source<CardTransaction>('transactions', {
      schema: '../../schemas/card_transaction.avsc',
      key: (x) => x.card_id,
      eventTime: (x) => x.event_time,
      grace: '30m',
      late: 'sideOutput',
    });
    // A table of versions: each record holds from valid_from until the card's next one.
    const limits = t.table<CardLimit>('card_limits', {
      schema: '../../schemas/card_limit.avsc',
      key: (l) => l.card_id, // the table's key is its partition key: the card, as for txns
      validFrom: (l) => l.valid_from,
      retention: '30d', // older versions go, but never a card's current one
    });
    const card = txns.groupBy('card', (x) => x.card_id);

    const features = txns.features(
      'card_limit_features',
      {
        amount_sum_24h: card.lookback('24h').sum((x) => x.amount_usd),
        txn_count_24h: card.lookback('24h').count(),
        // The limit valid at the transaction's time t (the latest version with valid_from ≤ t).
        credit_limit: txns.asOf(limits, (x) => x.card_id).value((l) => l.limit_usd),
        // The limit as it was a day earlier.
        credit_limit_1d_ago: txns.asOf(limits, (x) => x.card_id, { lag: '1d' }).value((l) => l.limit_usd),
      },
      {
        derive: {
          // How much of the limit this transaction uses (null without a known limit).
          amount_to_limit: (v, x) => (v.credit_limit === null || v.credit_limit <= 0 ? null : x.amount_usd / v.credit_limit),
        },
      },
    );
    // #endregion card-limits
    return { features };
  },
  { description: 'Card velocity features with the credit limit valid at each transaction, and the amount as a share of it.' },
);

export default cardLimits;

/** One training row: { amount_sum_24h: number; ...; credit_limit: number | null; amount_to_limit: number | null }. */
export type CardLimitRow = RowOf<typeof cardLimits, 'features'>;
