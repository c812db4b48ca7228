/**
 * A self-contained HTML page for a parity run: summary, per-feature table, inline SVG
 * overlays per numeric feature (online vs offline share per quantile bin, over the bins the
 * statistics used, and both empirical CDFs with the KS gap marked) and the mismatch table. No scripts, fonts or external assets, so
 * it can be attached to a CI run or mailed as is.
 */
import type { FeatureParityResult } from './feature-report.js';
import type { ParityRunResult } from './parity-run.js';
import { featureVerdict } from './terminal-report.js';

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);

const fmt = (x: number | null): string => (x === null ? '–' : x === 0 ? '0' : Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6 ? x.toExponential(2) : String(Number(x.toPrecision(4))));

/** Bin labels: the range of each numeric quantile bin, or the category. */
function binLabels(f: FeatureParityResult): string[] {
  const b = f.binned!.bins;
  if (b.kind === 'categorical') return [...b.categories];
  const cuts = b.cuts;
  return Array.from({ length: b.count }, (_, i) => `${i === 0 ? '−∞' : fmt(cuts[i - 1])} … ${i === cuts.length ? '∞' : fmt(cuts[i])}`);
}

const ONLINE = '#d95f02';
const OFFLINE = '#1b9e77';

/** The legend, in a band above the plot area so it never covers a bar or a curve. */
function legend(x: number): string {
  return (
    `<rect x="${x}" y="4" width="10" height="10" fill="${ONLINE}"/><text x="${x + 14}" y="13" font-size="10">online (served)</text>` +
    `<rect x="${x + 100}" y="4" width="10" height="10" fill="${OFFLINE}"/><text x="${x + 114}" y="13" font-size="10">offline (replay)</text>`
  );
}

/** Side-by-side bars of the online and offline share per bin. */
export function histogramSvg(f: FeatureParityResult): string {
  if (f.binned === null) return '';
  const online = f.binned.online;
  const offline = f.binned.offline;
  const totalOn = online.reduce((a, b) => a + b, 0) || 1;
  const totalOff = offline.reduce((a, b) => a + b, 0) || 1;
  const shares = online.map((c, i) => [c / totalOn, offline[i] / totalOff] as const);
  const max = Math.max(1e-9, ...shares.flat());
  const labels = binLabels(f);
  const width = 520;
  const height = 210;
  const left = 40;
  const top = 26;
  const bottom = 160;
  const slot = (width - left - 10) / shares.length;
  const bar = Math.max(1, slot / 2 - 2);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(f.name)} histogram">`,
    legend(left),
    `<line x1="${left}" y1="${bottom}" x2="${width - 10}" y2="${bottom}" stroke="#999"/>`,
    `<text x="${left - 4}" y="${top + 4}" font-size="10" text-anchor="end">${(max * 100).toFixed(0)}%</text>`,
  ];
  shares.forEach(([a, b], i) => {
    const x = left + i * slot;
    const ha = (a / max) * (bottom - top);
    const hb = (b / max) * (bottom - top);
    parts.push(`<rect x="${x.toFixed(1)}" y="${(bottom - ha).toFixed(1)}" width="${bar.toFixed(1)}" height="${ha.toFixed(1)}" fill="${ONLINE}"><title>online ${(a * 100).toFixed(1)}% (${online[i]})</title></rect>`);
    parts.push(`<rect x="${(x + bar + 1).toFixed(1)}" y="${(bottom - hb).toFixed(1)}" width="${bar.toFixed(1)}" height="${hb.toFixed(1)}" fill="${OFFLINE}"><title>offline ${(b * 100).toFixed(1)}% (${offline[i]})</title></rect>`);
    parts.push(`<text x="${(x + slot / 2).toFixed(1)}" y="${bottom + 12}" font-size="8" text-anchor="end" transform="rotate(-30 ${(x + slot / 2).toFixed(1)} ${bottom + 12})">${escapeHtml(labels[i])}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Online and offline empirical CDFs as step curves, with the KS gap marked. */
export function cdfSvg(f: FeatureParityResult): string {
  const c = f.cdf;
  if (c === null || c.x.length === 0) return '';
  const width = 340;
  const height = 210;
  const left = 34;
  const right = width - 12;
  const top = 26;
  const bottom = 160;
  const lo = c.x[0];
  const hi = c.x[c.x.length - 1];
  // Evenly spaced grid positions (the grid is quantiles of the pooled values), so skewed features stay readable.
  const px = (i: number): number => (c.x.length === 1 ? (left + right) / 2 : left + (i / (c.x.length - 1)) * (right - left));
  const py = (p: number): number => bottom - p * (bottom - top);
  const steps = (ys: readonly number[]): string => ys.map((y, i) => `${i === 0 ? 'M' : 'H'}${px(i).toFixed(1)}${i === 0 ? ` ${py(y).toFixed(1)}` : ` V${py(y).toFixed(1)}`}`).join(' ');
  let gapAt = 0;
  for (let i = 0; i < c.x.length; i++) if (Math.abs(c.online[i] - c.offline[i]) > Math.abs(c.online[gapAt] - c.offline[gapAt])) gapAt = i;
  const gap = Math.abs(c.online[gapAt] - c.offline[gapAt]);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(f.name)} CDF">`,
    legend(left),
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#999"/><line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#999"/>`,
    `<text x="${left - 4}" y="${top + 4}" font-size="10" text-anchor="end">1</text><text x="${left - 4}" y="${bottom}" font-size="10" text-anchor="end">0</text>`,
    `<path d="${steps(c.offline)}" fill="none" stroke="${OFFLINE}" stroke-width="2"/>`,
    `<path d="${steps(c.online)}" fill="none" stroke="${ONLINE}" stroke-width="1.5" stroke-dasharray="4 2"/>`,
    gap > 0 ? `<line x1="${px(gapAt).toFixed(1)}" y1="${py(c.online[gapAt]).toFixed(1)}" x2="${px(gapAt).toFixed(1)}" y2="${py(c.offline[gapAt]).toFixed(1)}" stroke="#b00" stroke-width="2"><title>largest gap ${fmt(gap)} at ${fmt(c.x[gapAt])}</title></line>` : '',
    `<text x="${left}" y="${bottom + 14}" font-size="9">${escapeHtml(fmt(lo))}</text><text x="${right}" y="${bottom + 14}" font-size="9" text-anchor="end">${escapeHtml(fmt(hi))}</text>`,
    `<text x="${(left + right) / 2}" y="${bottom + 28}" font-size="9" text-anchor="middle">value (pooled quantile scale)${gap > 0 ? `; max gap ${escapeHtml(fmt(gap))}` : ''}</text>`,
    '</svg>',
  ].join('');
}

export function renderParityHtml(r: ParityRunResult): string {
  const s = r.sample;
  const rows = r.report.features
    .map((f) => {
      const v = featureVerdict(f);
      return `<tr class="${v === 'ok' ? 'ok' : 'bad'}"><td>${escapeHtml(f.name)}</td><td>${f.type}</td><td>${f.rows.total}</td><td>${f.rows.mismatchedRows} (${(f.rows.mismatchRate * 100).toFixed(1)}%)</td><td>${fmt(f.rows.smape)}</td><td>${f.ks ? `${fmt(f.ks.statistic)} / ${fmt(f.ks.pValue)}` : '–'}</td><td>${fmt(f.jensenShannon)}</td><td>${fmt(f.psi)}</td><td>${v}</td></tr>`;
    })
    .join('\n');
  const plots = r.report.features
    .filter((f) => (f.type === 'float' || f.type === 'integer') && f.binned !== null)
    .map((f) => `<figure><figcaption>${escapeHtml(f.name)} — ${featureVerdict(f)}</figcaption>${histogramSvg(f)}${cdfSvg(f)}</figure>`)
    .join('\n');
  const mismatchRows = r.mismatches
    .map((m) => `<tr><td>${escapeHtml(m.feature)}</td><td>${m.partition}</td><td>${m.offset}</td><td>${escapeHtml(m.key)}</td><td>${new Date(m.eventTime).toISOString()}</td><td>${escapeHtml(String(m.online))}</td><td>${escapeHtml(String(m.offline))}</td><td>${escapeHtml(m.explanation ?? '')}</td></tr>`)
    .join('\n');
  const list = (items: readonly string[]): string => (items.length === 0 ? '' : `<ul>${items.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ul>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>skewless parity: ${escapeHtml(r.topology)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}tr.bad td{background:#fde0dc}
.verdict{font-size:1.3em;font-weight:bold}.alert{color:#b00}.holds{color:#070}
figure{display:inline-block;margin:1em}figcaption{font-size:13px;font-weight:bold}
</style></head><body>
<h1>Parity: ${escapeHtml(r.topology)} <small>version ${escapeHtml(r.version)}</small></h1>
<p class="verdict ${r.alert ? 'alert' : 'holds'}">${r.alert ? 'ALERT: parity does not hold' : 'Parity holds'} (tolerance ${r.tolerance})</p>
${list(r.reasons)}
<p>${s.records} sampled vectors from <code>${escapeHtml(s.topic)}</code>, ${s.matched} paired with replay, ${s.missingOffline} missing offline, ${s.duplicates} duplicates ignored, ${s.otherVersion} served by another version, ${s.afterMergeSkips} served after merge skips; ${s.lateLive} records of sampled keys late live (${s.lateLiveOnly} of them not late in replay, ${s.lateOfflineOnly} late only in replay). ${r.seconds.toFixed(1)} s.</p>
${list(r.explanations)}
<h2>Features</h2>
<table><tr><th>feature</th><th>type</th><th>n</th><th>mismatches</th><th>SMAPE</th><th>KS D / p</th><th>JS</th><th>PSI</th><th>verdict</th></tr>
${rows}
</table>
<h2>Distributions: share per quantile bin, and empirical CDFs</h2>
${plots || '<p>No numeric feature with values on both sides.</p>'}
<h2>Mismatches (${r.mismatches.length} of ${r.mismatchCount})</h2>
${r.mismatches.length === 0 ? '<p>None.</p>' : `<table><tr><th>feature</th><th>partition</th><th>offset</th><th>key</th><th>event time</th><th>online</th><th>offline</th><th>explanation</th></tr>\n${mismatchRows}\n</table>`}
</body></html>
`;
}
