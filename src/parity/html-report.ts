/**
 * A self-contained HTML page for a parity run: the verdict and its reasons, the sample, one
 * table row per feature (statistics, online − offline quantiles and a sparkline of both
 * distributions), then a section per flagged or mismatching feature with its histogram and
 * CDFs and its mismatches grouped by cause, each cause stated once above a few examples. No
 * scripts, fonts or external assets and nothing that needs JavaScript, so it can be attached
 * to a CI run or mailed as is.
 */
import { formatEventTime } from '../time/event-time.js';
import type { FeatureParityResult, ValueQuantiles } from './feature-report.js';
import type { ParityRunResult } from './parity-run.js';
import { cdfSvg, escapeHtml, histogramSvg, OFFLINE_COLOUR, ONLINE_COLOUR, sparklineSvg } from './report-charts.js';
import { formatCount, formatDifferenceQuantiles, formatNumber, formatPercent, formatSigned, formatValuePair } from './report-format.js';
import { featureSections, featureVerdict, UNEXPLAINED, type FeatureSection } from './report-sections.js';

const stat = (x: number | null, digits = 3): string => (x === null ? '–' : formatNumber(x, digits));
const spread = (q: ValueQuantiles | null): string => (q === null ? '–' : `${formatNumber(q.p5, 3)} / ${formatNumber(q.p50, 3)} / ${formatNumber(q.p95, 3)}`);

function featureRow(f: FeatureParityResult, categorical: boolean): string {
  const v = featureVerdict(f);
  const q = f.rows.differenceQuantiles;
  const cells = [
    v === 'ok' ? escapeHtml(f.name) : `<a href="#f-${escapeHtml(f.name)}">${escapeHtml(f.name)}</a>`,
    v,
    f.type,
    formatCount(f.rows.total),
    spread(f.valueQuantiles?.offline ?? null),
    `${formatCount(f.rows.mismatchedRows)} (${formatPercent(f.rows.mismatchRate)})`,
    stat(f.rows.smape),
    q === null ? '–' : `${formatSigned(q.p5, 3)} / ${formatSigned(q.p50, 3)} / ${formatSigned(q.p95, 3)}`,
    f.ks === null ? '–' : `${stat(f.ks.statistic)} / ${stat(f.ks.pValue)}`,
    ...(categorical ? [f.chiSquare === null ? '–' : `${stat(f.chiSquare.cramersV)} / ${stat(f.chiSquare.pValue)}`] : []),
    stat(f.jensenShannon),
    stat(f.psi),
    sparklineSvg(f),
  ];
  return `<tr class="${v === 'ok' ? 'ok' : 'bad'}">${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
}

function section(s: FeatureSection): string {
  const f = s.feature;
  const q = f.rows.differenceQuantiles;
  const failed = f.checks.filter((c) => c.failed).map((c) => c.test);
  const facts = [
    `${formatCount(f.rows.mismatchedRows)} of ${formatCount(f.rows.total)} values differ (${formatPercent(f.rows.mismatchRate)})`,
    ...(f.rows.smape === null ? [] : [`SMAPE ${stat(f.rows.smape)}`]),
    ...(failed.length === 0 ? [] : [`distribution test failed: ${failed.join(', ')}`]),
  ];
  const causes = s.causes.map(({ group, examples }) => {
    const details = examples.some((m) => m.detail !== null);
    const rows = examples.map((m) => {
      const [online, offline] = formatValuePair(m.online, m.offline, f.type);
      const cells = [`${m.partition}@${m.offset}`, escapeHtml(m.key), formatEventTime(m.eventTime), escapeHtml(online), escapeHtml(offline), m.difference === null ? '–' : formatSigned(m.difference)];
      return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}${details ? `<td class="detail">${escapeHtml(m.detail ?? '')}</td>` : ''}</tr>`;
    });
    const more = group.count > examples.length ? `<p class="more">… and ${formatCount(group.count - examples.length)} more</p>` : '';
    return (
      `<h4>${formatCount(group.count)} value${group.count === 1 ? '' : 's'}: ${escapeHtml(group.cause ?? UNEXPLAINED)}</h4>` +
      (rows.length === 0 ? '' : `<table class="examples"><tr><th>partition@offset</th><th>key</th><th>event time</th><th>online</th><th>offline</th><th>online − offline</th>${details ? '<th>detail</th>' : ''}</tr>${rows.join('')}</table>`) +
      more
    );
  });
  return `<section id="f-${escapeHtml(f.name)}">
<h3>${escapeHtml(f.name)} <span class="badge${s.verdict === 'ok' ? ' minor' : ''}">${s.verdict}</span></h3>
<p>${facts.join('; ')}.${q === null ? '' : ` Online − offline: ${escapeHtml(formatDifferenceQuantiles(q))}.`}${
    f.valueQuantiles === null ? '' : ` Values p5 / p50 / p95: online ${spread(f.valueQuantiles.online)}, offline ${spread(f.valueQuantiles.offline)}.`
  }</p>
<div class="plots">${histogramSvg(f)}${cdfSvg(f)}</div>
${causes.join('\n')}
</section>`;
}

export function renderParityHtml(r: ParityRunResult): string {
  const s = r.sample;
  const sections = featureSections(r);
  const list = (items: readonly string[]): string => (items.length === 0 ? '' : `<ul>${items.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ul>`);
  const categorical = r.report.features.some((f) => f.chiSquare !== null);
  // Counts that are zero say nothing; the paired count is shown even when it is.
  const counts = [
    [s.missingOffline, 'missing offline'],
    [s.duplicates, 'duplicates ignored'],
    [s.undecodable, 'undecodable'],
    [s.otherVersion, 'served by another version'],
    [s.afterMergeSkips, 'served after merge skips'],
    [s.afterIdleReleases, 'answered after idle releases (regrouped features)'],
    [s.lateLive, `records of sampled keys late live (${formatCount(s.lateLiveOnly)} of them not late in replay)`],
    [s.lateOfflineOnly, 'records of sampled keys late only in replay'],
  ] as const;
  const sample = [`${formatCount(s.records)} sampled vectors from <code>${escapeHtml(s.topic)}</code>`, `${formatCount(s.matched)} paired with replay`, ...counts.filter(([n]) => n > 0).map(([n, what]) => `${formatCount(n)} ${what}`)];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>skewless parity: ${escapeHtml(r.topology)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}p,ul{max-width:1100px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;vertical-align:middle;white-space:nowrap}
td:first-child,th:first-child,td:nth-child(2),th:nth-child(2){text-align:left}tr.bad td{background:#fde0dc}
td.detail{text-align:left;color:#555}
.verdict{font-size:1.3em;font-weight:bold}.alert{color:#b00}.holds{color:#070}
.badge{font-size:12px;background:#b00;color:#fff;border-radius:3px;padding:1px 6px;vertical-align:middle}.badge.minor{background:#888}
.plots svg{margin:0 1em 0 0}section{margin:1.5em 0 2.5em}h4{font-size:14px;margin:1em 0 .4em}.more{font-size:13px;color:#555;margin:.3em 0}
.key{display:inline-block;width:10px;height:10px;vertical-align:middle}
</style></head><body>
<h1>Parity: ${escapeHtml(r.topology)} <small>version ${escapeHtml(r.version)}</small></h1>
<p class="verdict ${r.alert ? 'alert' : 'holds'}">${r.alert ? 'ALERT: parity does not hold' : 'Parity holds'} (tolerance ${r.tolerance})</p>
${list(r.reasons)}
<p>${sample.join(', ')}; checked in ${r.seconds.toFixed(1)} s.</p>
${list(r.explanations)}
<h2>Features</h2>
<p>Offline values: quantiles p5 / p50 / p95 of the recomputed values. Online − offline: the same quantiles of the served value minus the recomputed one, per row.
Distribution: the share of <span class="key" style="background:${ONLINE_COLOUR}"></span> online and <span class="key" style="background:${OFFLINE_COLOUR}"></span> offline values in each decile bin of the offline values (even bars: the same distribution).</p>
<table><tr><th>feature</th><th>verdict</th><th>type</th><th>n</th><th>offline values</th><th>mismatches</th><th>SMAPE</th><th>online − offline</th><th>KS D / p</th>${categorical ? '<th>χ² V / p</th>' : ''}<th>JS</th><th>PSI</th><th>distribution</th></tr>
${r.report.features.map((f) => featureRow(f, categorical)).join('\n')}
</table>
<h2>${sections.length === 0 ? 'No feature differs' : `Features that differ (${formatCount(r.mismatchCount)} mismatching values)`}</h2>
${sections.map(section).join('\n')}
</body></html>
`;
}
