/**
 * The parity reports' content (html-report.ts, terminal-report.ts, mismatch-examples.ts):
 * examples for every feature that differs, bounded per feature and cause; each cause stated
 * once per group; the online − offline quantiles; bins labelled as integers and without
 * nextDown edges; agreeing features as one table row. Results are built from hand-made
 * feature values, so every expected count is known without running the code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildParityReport, compareFeature, type FeatureInput } from '../../src/parity/feature-report.js';
import { renderParityHtml } from '../../src/parity/html-report.js';
import { MismatchExamples, valueDifference, type MismatchRow } from '../../src/parity/mismatch-examples.js';
import type { ParityRunResult } from '../../src/parity/parity-run.js';
import { formatParityTerminal } from '../../src/parity/terminal-report.js';

const repeat = <T>(v: T, n: number): T[] => Array.from({ length: n }, () => v);
const VERSION_CAUSE = 'served by version v0, checked against v1';
const LATE_CAUSE = 'an earlier record of its key was late live but not in replay';

function row(feature: string, i: number, online: number | null, offline: number | null, cause: string | null, detail: string | null = null): MismatchRow {
  return { output: 'card_features', feature, partition: i % 4, offset: i, key: `card-${i}`, eventTime: Date.UTC(2026, 0, 1) + i * 60_000, online, offline, difference: valueDifference(online, offline), cause, detail, explanation: cause };
}

/**
 * 400 rows. txn_count (integer): online one too high on rows 0..299 (version change); rows
 * 300..309 are also one too high, explained by a late record. amount_sum (float, zero-inflated):
 * online 10 % + 1 higher on rows 0..39, no cause known. merchants: identical.
 */
function result(perGroup = 5): ParityRunResult {
  const n = 400;
  const offlineCount = Array.from({ length: n }, (_, i) => i % 9);
  const onlineCount = offlineCount.map((v, i) => (i < 310 ? v + 1 : v));
  const offlineSum = Array.from({ length: n }, (_, i) => (i % 5 < 2 ? 0 : i));
  const onlineSum = offlineSum.map((v, i) => (i < 40 ? v * 1.1 + 1 : v));
  const merchants = Array.from({ length: n }, (_, i) => i % 3);
  const inputs: FeatureInput[] = [
    { name: 'txn_count', type: 'integer', online: onlineCount, offline: offlineCount },
    { name: 'amount_sum', type: 'float', online: onlineSum, offline: offlineSum },
    { name: 'merchants', type: 'integer', online: merchants, offline: merchants },
  ];
  const examples = new MismatchExamples(perGroup);
  for (let i = 0; i < n; i++) {
    if (i < 300) examples.add(row('txn_count', i, onlineCount[i], offlineCount[i], VERSION_CAUSE));
    else if (i < 310) examples.add(row('txn_count', i, onlineCount[i], offlineCount[i], LATE_CAUSE, `1 record, first tx/${i % 4}@${i - 1}`));
    if (i < 40) examples.add(row('amount_sum', i, onlineSum[i], offlineSum[i], null));
  }
  const report = buildParityReport(inputs);
  return {
    topology: 'card-fraud',
    version: 'v1',
    tolerance: 0.1,
    alert: report.alert,
    reasons: report.reasons,
    sample: { topic: 'parity-log', records: n, duplicates: 0, undecodable: 0, matched: n, missingOffline: 0, otherVersion: 300, servedVersions: { v0: 300, v1: 100 }, afterMergeSkips: 0, afterIdleReleases: 0, lateLive: 1, lateLiveOnly: 1, lateOfflineOnly: 0 },
    explanations: [],
    mismatchCount: 350,
    mismatches: examples.rows(),
    mismatchGroups: examples.groups(),
    report,
    seconds: 1,
  };
}

const count = (text: string, part: string): number => text.split(part).length - 1;

test('every mismatch is counted per feature and cause; each group keeps its first examples', () => {
  const r = result();
  assert.deepEqual(r.mismatchGroups, [
    { feature: 'amount_sum', cause: null, count: 40, examples: 5 },
    { feature: 'txn_count', cause: VERSION_CAUSE, count: 300, examples: 5 },
    { feature: 'txn_count', cause: LATE_CAUSE, count: 10, examples: 5 },
  ]);
  assert.deepEqual(r.mismatches.map((m) => `${m.feature}@${m.offset}`), [
    ...[0, 1, 2, 3, 4].map((o) => `amount_sum@${o}`),
    ...[0, 1, 2, 3, 4].map((o) => `txn_count@${o}`),
    ...[300, 301, 302, 303, 304].map((o) => `txn_count@${o}`),
  ]);
  assert.equal(result(0).mismatches.length, 0);
  assert.throws(() => new MismatchExamples(-1), /integer >= 0/);
  assert.equal(valueDifference(5, null), null);
  assert.equal(valueDifference(7, 5), 2);
});

test('HTML: a section per differing feature, each cause once above its examples, quantiles, integer bins, no nextDown edges', () => {
  const r = result();
  const html = renderParityHtml(r);
  // Both differing features have a section with examples; the identical one has only its table row.
  assert.match(html, /<section id="f-amount_sum">/);
  assert.match(html, /<section id="f-txn_count">/);
  assert.doesNotMatch(html, /<section id="f-merchants">/);
  assert.match(html, /<td>merchants<\/td><td>ok<\/td>/);
  // One heading per group with its full count; the cause text never repeats per row.
  assert.equal(count(html, VERSION_CAUSE), 1);
  assert.equal(count(html, LATE_CAUSE), 1);
  assert.match(html, /<h4>300 values: served by version v0, checked against v1<\/h4>/);
  assert.match(html, /<h4>10 values: an earlier record/);
  assert.match(html, /<h4>40 values: no cause the engine knows/);
  assert.match(html, /… and 295 more/);
  assert.match(html, /… and 35 more/);
  // Per-row details appear in their own column only where there are any.
  assert.equal(count(html, '<th>detail</th>'), 1);
  assert.match(html, /<td class="detail">1 record, first tx\/0@299<\/td>/);
  // Example rows: values rounded, the difference signed. Row 3 of amount_sum: offline 3, online 3 × 1.1 + 1 = 4.3.
  assert.match(html, /<td>3@3<\/td><td>card-3<\/td><td>2026-01-01T00:03:00\.000Z<\/td><td>4\.3<\/td><td>3<\/td><td>\+1\.3<\/td><\/tr>/);
  // Online − offline quantiles of txn_count: 310 of 400 differences are +1, 90 are 0, so p5 = 0, p50 = p95 = +1.
  assert.match(html, /<td>0 \/ \+1 \/ \+1<\/td>/);
  assert.match(html, /Online − offline: p1 0, p5 0, p50 \+1, p95 \+1, p99 \+1\./);
  // Integer bins name integers; no label is a nextDown value or a degenerate "v … v" range.
  assert.doesNotMatch(html, /e-32\d/);
  assert.doesNotMatch(html, /(\d) … \1\b/);
  assert.match(html, />8<\/text>/, 'the integer 8 has a bin of its own');
  assert.doesNotMatch(html, /<script|<link|src="http|href="http/);
});

test('terminal: the same grouping, a few examples per cause and the rest counted', () => {
  const text = formatParityTerminal(result());
  assert.equal(count(text, VERSION_CAUSE), 1);
  assert.match(text, /^txn_count \(MISMATCH\): 310 of 400 values differ \(77\.5%\); online − offline p1 0, p5 0, p50 \+1, p95 \+1, p99 \+1$/m);
  assert.match(text, /^ {2}300 values: served by version v0, checked against v1$/m);
  assert.match(text, /^ {4}… 297 more$/m);
  assert.match(text, /^ {2}40 values: no cause the engine knows/m);
  assert.match(text, /^ {4}0@0 +card-0 +1 +0 +\+1$/m);
  assert.match(text, /^ {4}0@300 +card-300 +4 +3 +\+1  1 record, first tx\/0@299$/m);
  assert.doesNotMatch(text, /merchants \(/, 'an agreeing feature gets no section');
});

test('value quantiles per side, by hand', () => {
  // 1 … 21: h = 20q → p5 = x[1] = 2, p50 = x[10] = 11, p95 = x[19] = 20.
  const values = Array.from({ length: 21 }, (_, i) => i + 1);
  const f = compareFeature({ name: 'x', type: 'float', online: [...values, null], offline: [...values, NaN] });
  assert.deepEqual(f.valueQuantiles, { online: { p5: 2, p50: 11, p95: 20 }, offline: { p5: 2, p50: 11, p95: 20 } });
  assert.equal(compareFeature({ name: 's', online: repeat('a', 3), offline: repeat('a', 3) }).valueQuantiles, null);
  assert.deepEqual(compareFeature({ name: 'n', type: 'float', online: [null], offline: [1] }).valueQuantiles, { online: null, offline: { p5: 1, p50: 1, p95: 1 } });
});
