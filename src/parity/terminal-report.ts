/**
 * The terminal form of a parity run: a per-feature table; per flagged or mismatching feature
 * its online − offline quantiles and its mismatches grouped by cause, each cause stated once
 * with a few examples; then the notes, the verdict and its reasons. Plain text (no colours),
 * so it reads the same in CI logs.
 */
import type { ParityRunResult } from './parity-run.js';
import { formatCount, formatDifferenceQuantiles, formatNumber, formatPercent, formatSigned, formatValuePair } from './report-format.js';
import { featureSections, featureVerdict, UNEXPLAINED } from './report-sections.js';

/** Examples per cause in the terminal; the JSON and HTML reports list more. */
const TERMINAL_EXAMPLES = 3;

const stat = (x: number | null): string => (x === null ? '-' : formatNumber(x, 3));

/** `left`: the columns of names, left-aligned; numbers are right-aligned so columns of figures line up by magnitude. */
function table(header: readonly string[], rows: readonly (readonly string[])[], left: ReadonlySet<number>, indent = ''): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string => indent + cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function mismatchLines(r: ParityRunResult): string[] {
  const lines: string[] = [];
  for (const s of featureSections(r)) {
    const f = s.feature;
    const q = f.rows.differenceQuantiles;
    lines.push(
      `${f.name} (${s.verdict}): ${formatCount(f.rows.mismatchedRows)} of ${formatCount(f.rows.total)} values differ (${formatPercent(f.rows.mismatchRate)})` +
        `${q === null ? '' : `; online − offline ${formatDifferenceQuantiles(q)}`}`,
    );
    if (f.distributionFailed) lines.push(`  distribution: ${f.checks.filter((c) => c.failed).map((c) => c.test).join(', ')} failed`);
    for (const { group, examples } of s.causes) {
      lines.push(`  ${formatCount(group.count)} value${group.count === 1 ? '' : 's'}: ${group.cause ?? UNEXPLAINED}`);
      const shown = examples.slice(0, TERMINAL_EXAMPLES);
      const details = shown.some((m) => m.detail !== null);
      const rows = shown.map((m) => {
        const [live, replay] = formatValuePair(m.online, m.offline, f.type);
        return [`${m.partition}@${m.offset}`, m.key, live, replay, m.difference === null ? '-' : formatSigned(m.difference), ...(details ? [m.detail ?? ''] : [])];
      });
      lines.push(...table(['partition@offset', 'key', 'live', 'replay', 'live − replay', ...(details ? ['detail'] : [])], rows, new Set([0, 1, 5]), '    '));
      if (group.count > shown.length) lines.push(`    … ${formatCount(group.count - shown.length)} more`);
    }
    lines.push('');
  }
  return lines;
}

export function formatParityTerminal(r: ParityRunResult): string {
  const rows = r.report.features.map((f) => [
    f.name,
    formatCount(f.rows.total),
    `${formatCount(f.rows.mismatchedRows)} (${formatPercent(f.rows.mismatchRate)})`,
    stat(f.rows.smape),
    f.ks === null ? '-' : `${stat(f.ks.statistic)} / ${stat(f.ks.pValue)}`,
    stat(f.jensenShannon),
    stat(f.psi),
    featureVerdict(f),
  ]);
  const s = r.sample;
  const lines = [
    `parity ${r.topology} version ${r.version}: ${formatCount(s.records)} sampled vectors from ${s.topic}, ${formatCount(s.matched)} paired with replay` +
      `${s.duplicates > 0 ? `, ${formatCount(s.duplicates)} duplicates ignored` : ''}${s.undecodable > 0 ? `, ${formatCount(s.undecodable)} undecodable` : ''}` +
      `, ${formatCount(s.lateLive)} late live (${formatCount(s.lateLiveOnly)} not late in replay), ${formatCount(s.afterMergeSkips)} after merge skips` +
      `${s.afterIdleReleases > 0 ? `, ${formatCount(s.afterIdleReleases)} answered after idle releases` : ''} (${r.seconds.toFixed(1)} s)`,
    '',
    ...table(['feature', 'n', 'mismatches', 'SMAPE', 'KS D / p', 'JS', 'PSI', 'verdict'], rows, new Set([0, 7])),
    '',
    ...mismatchLines(r),
  ];
  for (const e of r.explanations) lines.push(`note: ${e}`);
  lines.push(r.alert ? `ALERT: parity does not hold (tolerance ${r.tolerance})` : `parity holds (tolerance ${r.tolerance})`);
  for (const reason of r.reasons) lines.push(`  - ${reason}`);
  return lines.join('\n');
}
