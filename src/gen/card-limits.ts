/**
 * Credit-limit versions of the synthetic cards (src/gen/card-transactions.ts): a table of
 * versions, each valid from its `valid_from` until the card's next one. Drawn from its own
 * random stream after the transactions are generated, so adding it changed none of the
 * transactions or chargebacks a seed gives.
 *
 * Model: every card gets an initial limit (500 to 25,000 USD, mostly 1,000 to 5,000) valid from
 * when the card was opened, 0 to 28 days before the data start (so a partition's versions before
 * the first transaction are never further apart than a source's default maxFutureSkew of 30 days); then changes arrive at a mean
 * of one per 60 days up to the snapshot end, 75 % raises (×1.25 to ×2) and 25 % cuts (×0.5 to
 * ×0.9), rounded to 100 USD and kept within 300 to 50,000. Times are whole minutes.
 */
import { cardId } from './card-transactions.js';
import { AliasTable, SeededRandom } from './seeded-random.js';
import { DAY, sortVersions, versionTimes, type VersionSpan } from './versions.js';

export interface CardLimit {
  card_id: string;
  /** Epoch ms from which this limit holds. */
  valid_from: number;
  /** Credit limit in US dollars. */
  limit_usd: number;
}

export interface CardLimitOptions extends VersionSpan {
  cards: number;
}

/** The random stream of the limits (1: the card world, 2: the events, 3: Avro sync markers). */
const LIMITS_STREAM = 4;
const INITIAL: ReadonlyArray<readonly [number, number]> = [
  [500, 0.08],
  [1000, 0.2],
  [2000, 0.24],
  [3000, 0.18],
  [5000, 0.16],
  [10_000, 0.09],
  [25_000, 0.05],
];

const roundLimit = (x: number): number => Math.min(50_000, Math.max(300, Math.round(x / 100) * 100));

/** The versions of every card's limit, sorted by (valid_from, card_id): what the topic would hold. */
export function cardLimitVersions(opts: CardLimitOptions): CardLimit[] {
  const rng = new SeededRandom(opts.seed, LIMITS_STREAM);
  const initial = new AliasTable(INITIAL.map(([, w]) => w));
  const out: CardLimit[] = [];
  for (let c = 0; c < opts.cards; c++) {
    const card_id = cardId(c);
    let limit = 0; // none yet: the first time draws the opening limit
    for (const valid_from of versionTimes(rng, opts.start, opts.end, 60 * DAY)) {
      const next = limit === 0
        ? INITIAL[initial.sample(rng)][0]
        : roundLimit(limit * (rng.chance(0.75) ? rng.float(1.25, 2) : rng.float(0.5, 0.9)));
      if (next === limit) continue;
      limit = next;
      out.push({ card_id, valid_from, limit_usd: limit });
    }
  }
  return sortVersions(out, (v) => v.card_id);
}
