/**
 * What the terminal and HTML parity reports show beyond the feature table, in the same order:
 * a section per feature that was flagged or has mismatching values, with its mismatches
 * grouped by cause and a few examples of each.
 */
import type { FeatureParityResult } from './feature-report.js';
import type { MismatchGroup, MismatchRow } from './mismatch-examples.js';
import type { ParityRunResult } from './parity-run.js';

/** OK, or what failed: row mismatches above the rate, a distribution test, or both. */
export function featureVerdict(f: FeatureParityResult): string {
  if (f.rowMismatchExceeded && f.distributionFailed) return 'MISMATCH+DIST';
  if (f.rowMismatchExceeded) return 'MISMATCH';
  if (f.distributionFailed) return 'DIST';
  return 'ok';
}

/** The words for a group without a known cause. */
export const UNEXPLAINED =
  'no cause the engine knows (not another version, a merge skip or a late record): live computed these values differently from the topology offline';

export interface CauseSection {
  readonly group: MismatchGroup;
  readonly examples: readonly MismatchRow[];
}

export interface FeatureSection {
  readonly feature: FeatureParityResult;
  readonly verdict: string;
  /** Largest group first; together they hold every mismatching value of the feature. */
  readonly causes: readonly CauseSection[];
}

/** Flagged features first, then features with mismatches under the alert rate; by name within each. */
export function featureSections(r: ParityRunResult): FeatureSection[] {
  const examples = new Map<MismatchGroup, MismatchRow[]>();
  let next = 0;
  // `mismatches` holds each group's examples in the order of `mismatchGroups`.
  for (const g of r.mismatchGroups) {
    examples.set(g, r.mismatches.slice(next, next + g.examples));
    next += g.examples;
  }
  const sections = r.report.features
    .filter((f) => featureVerdict(f) !== 'ok' || f.rows.mismatchedRows > 0)
    .map((f) => ({
      feature: f,
      verdict: featureVerdict(f),
      causes: r.mismatchGroups.filter((g) => g.feature === f.name).map((g) => ({ group: g, examples: examples.get(g)! })),
    }));
  return [...sections.filter((s) => s.verdict !== 'ok'), ...sections.filter((s) => s.verdict === 'ok')];
}
