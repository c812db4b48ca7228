/**
 * The inline SVG charts of the HTML parity report: the share of online and offline values per
 * bin (full size, and as a sparkline for the feature table), and both empirical CDFs with the
 * KS gap marked. Plain SVG with <title> tooltips: no script, font or external asset.
 */
import type { FeatureParityResult } from './feature-report.js';
import { binLabels, formatNumber, formatPercent } from './report-format.js';

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);

export const ONLINE_COLOUR = '#d95f02';
export const OFFLINE_COLOUR = '#1b9e77';

interface BinShare {
  readonly label: string;
  readonly exact: string;
  readonly online: number;
  readonly offline: number;
  readonly onlineCount: number;
  readonly offlineCount: number;
}

/**
 * Share of each side's values per bin, leaving out bins empty on both sides (the open end bins
 * of a bounded feature, integer bins between two integers): they carry no information.
 */
function binShares(f: FeatureParityResult): BinShare[] {
  if (f.binned === null) return [];
  const { online, offline } = f.binned;
  const totalOn = online.reduce((a, b) => a + b, 0) || 1;
  const totalOff = offline.reduce((a, b) => a + b, 0) || 1;
  const labels = binLabels(f.binned.bins, f.type);
  return labels
    .map((l, i) => ({ label: l.short, exact: l.exact, online: online[i] / totalOn, offline: offline[i] / totalOff, onlineCount: online[i], offlineCount: offline[i] }))
    .filter((s) => s.onlineCount > 0 || s.offlineCount > 0);
}

/** The scale of a bar chart: the largest share on either side (never 0, so empty data draws no NaN). */
const largestShare = (shares: readonly BinShare[]): number => Math.max(1e-9, ...shares.flatMap((s) => [s.online, s.offline]));

const tooltip = (s: BinShare): string => `${escapeHtml(s.exact)}: online ${formatPercent(s.online)} (${s.onlineCount}), offline ${formatPercent(s.offline)} (${s.offlineCount})`;

/** The legend, in a band above the plot area so it never covers a bar or a curve. */
function legend(x: number): string {
  return (
    `<rect x="${x}" y="4" width="10" height="10" fill="${ONLINE_COLOUR}"/><text x="${x + 14}" y="13" font-size="10">online (served)</text>` +
    `<rect x="${x + 100}" y="4" width="10" height="10" fill="${OFFLINE_COLOUR}"/><text x="${x + 114}" y="13" font-size="10">offline (replay)</text>`
  );
}

/** Side-by-side bars of the online and offline share per bin, labelled with the bins' ranges. */
export function histogramSvg(f: FeatureParityResult): string {
  const shares = binShares(f);
  if (shares.length === 0) return '';
  const max = largestShare(shares);
  const width = 520;
  const height = 210;
  const left = 40;
  const top = 26;
  const bottom = 160;
  const slot = (width - left - 10) / shares.length;
  const bar = Math.max(1, slot / 2 - 2);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(f.name)}: share of values per bin">`,
    legend(left),
    `<line x1="${left}" y1="${bottom}" x2="${width - 10}" y2="${bottom}" stroke="#999"/>`,
    `<text x="${left - 4}" y="${top + 4}" font-size="10" text-anchor="end">${(max * 100).toFixed(0)}%</text>`,
  ];
  shares.forEach((s, i) => {
    const x = left + i * slot;
    const ha = (s.online / max) * (bottom - top);
    const hb = (s.offline / max) * (bottom - top);
    const mid = (x + slot / 2).toFixed(1);
    parts.push(`<g><title>${tooltip(s)}</title>`);
    parts.push(`<rect x="${x.toFixed(1)}" y="${(bottom - ha).toFixed(1)}" width="${bar.toFixed(1)}" height="${ha.toFixed(1)}" fill="${ONLINE_COLOUR}"/>`);
    parts.push(`<rect x="${(x + bar + 1).toFixed(1)}" y="${(bottom - hb).toFixed(1)}" width="${bar.toFixed(1)}" height="${hb.toFixed(1)}" fill="${OFFLINE_COLOUR}"/>`);
    parts.push(`<text x="${mid}" y="${bottom + 12}" font-size="9" text-anchor="end" transform="rotate(-30 ${mid} ${bottom + 12})">${escapeHtml(s.label)}</text></g>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** A small version of {@link histogramSvg} for a table cell: bars only, the ranges in tooltips. */
export function sparklineSvg(f: FeatureParityResult): string {
  const shares = binShares(f);
  if (shares.length === 0) return '';
  const max = largestShare(shares);
  const height = 22;
  const slot = Math.max(4, Math.min(12, Math.floor(120 / shares.length)));
  const bar = slot / 2 - 0.5;
  const width = slot * shares.length;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(f.name)}: distribution, online and offline">`];
  shares.forEach((s, i) => {
    const ha = Math.max(0.5, (s.online / max) * height);
    const hb = Math.max(0.5, (s.offline / max) * height);
    parts.push(
      `<g><title>${tooltip(s)}</title><rect x="${i * slot}" y="${(height - ha).toFixed(1)}" width="${bar}" height="${ha.toFixed(1)}" fill="${ONLINE_COLOUR}"/>` +
        `<rect x="${i * slot + bar}" y="${(height - hb).toFixed(1)}" width="${bar}" height="${hb.toFixed(1)}" fill="${OFFLINE_COLOUR}"/></g>`,
    );
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
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(f.name)}: empirical CDFs">`,
    legend(left),
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#999"/><line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#999"/>`,
    `<text x="${left - 4}" y="${top + 4}" font-size="10" text-anchor="end">1</text><text x="${left - 4}" y="${bottom}" font-size="10" text-anchor="end">0</text>`,
    `<path d="${steps(c.offline)}" fill="none" stroke="${OFFLINE_COLOUR}" stroke-width="2"/>`,
    `<path d="${steps(c.online)}" fill="none" stroke="${ONLINE_COLOUR}" stroke-width="1.5" stroke-dasharray="4 2"/>`,
    gap > 0
      ? `<line x1="${px(gapAt).toFixed(1)}" y1="${py(c.online[gapAt]).toFixed(1)}" x2="${px(gapAt).toFixed(1)}" y2="${py(c.offline[gapAt]).toFixed(1)}" stroke="#b00" stroke-width="2"><title>largest gap ${formatNumber(gap, 3)} at ${formatNumber(c.x[gapAt])}</title></line>`
      : '',
    `<text x="${left}" y="${bottom + 14}" font-size="9">${escapeHtml(formatNumber(lo))}</text><text x="${right}" y="${bottom + 14}" font-size="9" text-anchor="end">${escapeHtml(formatNumber(hi))}</text>`,
    `<text x="${(left + right) / 2}" y="${bottom + 28}" font-size="9" text-anchor="middle">value (pooled quantile scale)${gap > 0 ? `; largest gap ${escapeHtml(formatNumber(gap, 3))} (KS D)` : ''}</text>`,
    '</svg>',
  ].join('');
}
