import type { ReplaySummary } from '../modes/replay-files.js';

/** Human summary of a replay; numbers first, then where things went. */
export function formatReplaySummary(s: ReplaySummary, seconds: number): string {
  const c = s.counters;
  const rows = s.files.reduce((n, f) => n + f.rows, 0);
  const lines = [
    `version ${s.version}`,
    `processed ${c.processed.toLocaleString('en-US')} records in ${seconds.toFixed(1)} s (${Math.round(c.processed / Math.max(seconds, 1e-3)).toLocaleString('en-US')} events/s)`,
    `feature rows ${c.emitted.toLocaleString('en-US')}, window rows ${c.windowRows.toLocaleString('en-US')}, written ${rows.toLocaleString('en-US')} rows in ${s.files.length} Parquet files`,
    `late ${c.late} (dropped ${c.lateDropped}, side output ${c.lateSideOutput}), dead letters ${c.deadLetters}, filtered ${c.filtered}`,
  ];
  for (const [o, l] of Object.entries(s.labels)) {
    lines.push(`labels for ${o}: ${l.events} label events${l.malformed ? ` (${l.malformed} malformed)` : ''}, label data up to ${l.dataEnd === null ? '-' : new Date(l.dataEnd).toISOString()}`);
  }
  const dirs = [...new Set(s.files.map((f) => f.path.replace(/\/part-\d+\.parquet$/, '')))];
  for (const d of dirs) lines.push(`output: ${d}/`);
  if (s.deadLetters.count > 0) lines.push(`dead letters: ${s.deadLetters.count} in ${s.deadLetters.dir}/ (one NDJSON file per partition, with the reason)`);
  if (s.lateRecords.count > 0) lines.push(`late records: ${s.lateRecords.count} in ${s.lateRecords.dir}/`);
  return lines.join('\n');
}
