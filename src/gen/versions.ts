/**
 * What the generated tables of versions (card limits, merchant risk tiers) share: when a key's
 * versions start, when they change, and the order they are written in.
 */
import type { SeededRandom } from './seeded-random.js';

const MINUTE = 60_000;
export const DAY = 86_400_000;
/**
 * How far before the data start a key's first version may lie: under a source's default
 * maxFutureSkew of 30 days, so a partition's versions before its first transaction are never
 * further apart than the engine accepts.
 */
const MAX_LEAD = 28 * DAY;

/** What a table's versions are drawn for: the seed and the data set's time span. */
export interface VersionSpan {
  seed: number;
  /** Data start and snapshot end (epoch ms), as in the transactions' summary. */
  start: number;
  end: number;
}

/**
 * The validity times of one key's versions, in whole minutes: the first 0 to 28 days before
 * `start`, then a change after each exponential gap of mean `meanGap` ms (at least a minute) up
 * to and including `end`. Lazy, so the caller draws each version's value from the same `rng`
 * between the times, which keeps a seed's output fixed.
 */
export function* versionTimes(rng: SeededRandom, start: number, end: number, meanGap: number): Generator<number, void, undefined> {
  let at = start - Math.floor(rng.float(0, MAX_LEAD) / MINUTE) * MINUTE;
  for (;;) {
    yield at;
    at += Math.max(MINUTE, Math.floor(rng.exponential(meanGap) / MINUTE) * MINUTE);
    if (at > end) return;
  }
}

/** Sorts versions in place by (valid_from, key), the order a table's topic would hold them in. */
export function sortVersions<T extends { valid_from: number }>(versions: T[], key: (v: T) => string): T[] {
  return versions.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return a.valid_from - b.valid_from || (ka < kb ? -1 : ka > kb ? 1 : 0);
  });
}
