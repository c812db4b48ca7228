/**
 * The terminal form of a parity run: a per-feature table, then the verdict, reasons and
 * explanations. Plain text (no colours), so it reads the same in CI logs.
 */
import type { FeatureParityResult } from './feature-report.js';
import type { ParityRunResult } from './parity-run.js';

/** OK, or what failed: row mismatches above the rate, a distribution test, or both. */
export function featureVerdict(f: FeatureParityResult): string {
  if (f.rowMismatchExceeded && f.distributionFailed) return 'MISMATCH+DIST';
  if (f.rowMismatchExceeded) return 'MISMATCH';
  if (f.distributionFailed) return 'DIST';
  return 'ok';
}

const num = (x: number | null, digits = 3): string => (x === null ? '-' : x === 0 ? '0' : Math.abs(x) < 1e-3 ? x.toExponential(1) : x.toFixed(digits));

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Names left-aligned, numbers right-aligned, so columns of figures line up by magnitude.
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatParityTerminal(r: ParityRunResult): string {
  const rows = r.report.features.map((f) => [
    f.name,
    String(f.rows.total),
    `${f.rows.mismatchedRows} (${(f.rows.mismatchRate * 100).toFixed(1)}%)`,
    num(f.rows.smape),
    f.ks === null ? '-' : `${num(f.ks.statistic)} / ${num(f.ks.pValue)}`,
    num(f.jensenShannon),
    num(f.psi),
    featureVerdict(f),
  ]);
  const s = r.sample;
  const lines = [
    `parity ${r.topology} version ${r.version}: ${s.records} sampled vectors from ${s.topic}, ${s.matched} paired with replay` +
      `${s.duplicates > 0 ? `, ${s.duplicates} duplicates ignored` : ''}${s.undecodable > 0 ? `, ${s.undecodable} undecodable` : ''}` +
      `, ${s.lateLive} late live (${s.lateLiveOnly} not late in replay), ${s.afterMergeSkips} after merge skips (${r.seconds.toFixed(1)} s)`,
    '',
    table(['feature', 'n', 'mismatches', 'SMAPE', 'KS D / p', 'JS', 'PSI', 'verdict'], rows),
    '',
  ];
  if (r.mismatches.length > 0) {
    lines.push(`first mismatches (${r.mismatches.length} of ${r.mismatchCount}):`);
    for (const m of r.mismatches.slice(0, 10)) {
      lines.push(`  ${m.feature} @ ${m.partition}/${m.offset} key ${m.key}: live ${String(m.online)} vs replay ${String(m.offline)}${m.explanation ? ` (${m.explanation})` : ''}`);
    }
    lines.push('');
  }
  for (const e of r.explanations) lines.push(`note: ${e}`);
  lines.push(r.alert ? `ALERT: parity does not hold (tolerance ${r.tolerance})` : `parity holds (tolerance ${r.tolerance})`);
  for (const reason of r.reasons) lines.push(`  - ${reason}`);
  return lines.join('\n');
}
