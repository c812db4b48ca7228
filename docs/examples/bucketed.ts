/**
 * Bucketed aggregates over the synthetic card transactions (src/gen/card-transactions.ts): a
 * card's spending per country. The README shows the region below verbatim
 * (test/unit/docs-snippets.test.ts checks it, and tsc compiles this file).
 *
 *   npx skewless generate card-transactions --events 100000 --seed 7 --out data/cards --format avro
 *   npx skewless backfill docs/examples/bucketed.ts \
 *       --input transactions=data/cards/transactions.avro --partitions 4 --out out/bucketed
 */
import { topology, type RowOf } from '../../src/dsl/index.js';
import type { CardTransaction } from '../../src/gen/card-transactions.js';

const cardCountries = topology(
  'card-countries',
  (t) => {
    const txns = t.source<CardTransaction>('transactions', {
      schema: '../../schemas/card_transaction.avsc',
      key: (x) => x.card_id,
      eventTime: (x) => x.event_time,
      grace: '30m',
      late: 'sideOutput',
    });
    const card = txns.groupBy('card', (x) => x.card_id);

    // #region spend-per-country
    // Spend per country in the last 7 days: { US: 412.5, CA: 0, MX: 88, other: 1250 }. Every
    // declared country is listed (0 when the card did not spend there), the rest add up in "other".
    const week = card.lookback('7d');
    const features = txns.features('card_countries', {
      spend_by_country_7d: week.sumBy((x) => x.amount_usd, { by: (x) => x.country, categories: ['US', 'CA', 'MX'] }),
      // The mean is null for a country without transactions; the 3 countries with the most.
      mean_by_country_7d: week.meanBy((x) => x.amount_usd, { by: (x) => x.country, maxCategories: 3 }),
      txns_by_country_7d: week.countBy({ by: (x) => x.country, categories: ['US', 'CA', 'MX'] }),
    });
    // #endregion spend-per-country
    return { features };
  },
  { description: 'Spending of a card per country (bucketed aggregates).' },
);

export default cardCountries;

/** { spend_by_country_7d: Record<string, number>; mean_by_country_7d: Record<string, number | null>; ... } */
export type CardCountriesRow = RowOf<typeof cardCountries, 'features'>;
