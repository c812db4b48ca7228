/**
 * The mismatching values a parity run lists: every mismatch is counted per feature and cause,
 * and the first few of each such group are kept as examples, so every feature that differs
 * gets examples of each way it differs, however many values another feature gets wrong.
 */
import { compareCodeUnits } from './bins.js';
import type { ParityValue } from './parity-log.js';

/** One value that differs between the served vector and its recomputation. */
export interface MismatchRow {
  readonly output: string;
  readonly feature: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly eventTime: number;
  readonly online: ParityValue;
  readonly offline: ParityValue;
  /** online − offline when both are finite numbers, else null. */
  readonly difference: number | null;
  /** Why, where the engine knows, worded alike for every row it applies to (the group); null otherwise. */
  readonly cause: string | null;
  /** This row's specifics of its causes (which merge skips, which late records); null when there are none. */
  readonly detail: string | null;
  /** Causes and specifics in one text; null when nothing the engine knows applies. */
  readonly explanation: string | null;
}

/** The mismatches of one feature with one cause. */
export interface MismatchGroup {
  readonly feature: string;
  /** The cause its rows share; null when nothing the engine knows applies. */
  readonly cause: string | null;
  /** Every mismatching value of the feature with this cause. */
  readonly count: number;
  /** How many of them are listed as examples. */
  readonly examples: number;
}

/** online − offline for two finite numbers, else null. */
export function valueDifference(online: ParityValue, offline: ParityValue): number | null {
  return typeof online === 'number' && typeof offline === 'number' && Number.isFinite(online) && Number.isFinite(offline) ? online - offline : null;
}

interface Collected {
  readonly feature: string;
  readonly cause: string | null;
  count: number;
  readonly rows: MismatchRow[];
}

/** Counts mismatches per (feature, cause) and keeps the first `perGroup` of each, in the order added. */
export class MismatchExamples {
  private readonly byGroup = new Map<string, Collected>();

  constructor(readonly perGroup: number) {
    if (!Number.isInteger(perGroup) || perGroup < 0) throw new RangeError(`examples per group must be an integer >= 0, got ${perGroup}`);
  }

  add(row: MismatchRow): void {
    const id = `${row.feature}\u0000${row.cause ?? ''}`;
    let g = this.byGroup.get(id);
    if (g === undefined) this.byGroup.set(id, (g = { feature: row.feature, cause: row.cause, count: 0, rows: [] }));
    g.count++;
    if (g.rows.length < this.perGroup) g.rows.push(row);
  }

  /** Features in name order; within one, the largest group first, unexplained before explained on a tie. */
  private ordered(): Collected[] {
    return [...this.byGroup.values()].sort(
      (a, b) => compareCodeUnits(a.feature, b.feature) || b.count - a.count || (a.cause === null ? -1 : b.cause === null ? 1 : compareCodeUnits(a.cause, b.cause)),
    );
  }

  groups(): MismatchGroup[] {
    return this.ordered().map((g) => ({ feature: g.feature, cause: g.cause, count: g.count, examples: g.rows.length }));
  }

  /** The examples, group after group in the order of {@link groups}. */
  rows(): MismatchRow[] {
    return this.ordered().flatMap((g) => g.rows);
  }
}
