import { formatCount, formatRate, formatSeconds } from '../io/number-format.js';
import type { ReplaySummary } from '../modes/replay-files.js';

/** Human summary of a replay; numbers first, then where things went. */
export function formatReplaySummary(s: ReplaySummary, seconds: number): string {
  const c = s.counters;
  const n = formatCount;
  const rows = s.files.reduce((sum, f) => sum + f.rows, 0);
  const lines = [
    `version ${s.version}`,
    `processed ${n(c.processed)} records in ${formatSeconds(seconds)} (${formatRate(c.processed / Math.max(seconds, 1e-3), 'events')})`,
    `feature rows ${n(c.emitted)}, window rows ${n(c.windowRows)}${c.openWindowRows > 0 ? ` (${n(c.openWindowRows)} of windows still open at the end of the input, final = false)` : ''}, written ${n(rows)} rows in ${n(s.files.length)} Parquet files`,
    `late ${n(c.late)} (dropped ${n(c.lateDropped)}, side output ${n(c.lateSideOutput)}), dead letters ${n(c.deadLetters)}, filtered ${n(c.filtered)}`,
  ];
  const cache = s.stateCache;
  if (cache !== undefined && cache.checkpoints > 0) {
    lines.push(
      `state: ${n(cache.evictions)} keys moved out of memory to the state store in ${n(cache.checkpoints)} checkpoints (at most ${n(cache.lowestBound)} keys per group and partition in memory` +
        `${cache.lowestBound < cache.bound ? ', lowered because the heap ran short: NODE_OPTIONS=--max-old-space-size=<MiB> gives it more' : ''}; --cache-keys sets it)`,
    );
  }
  if (cache !== undefined && cache.expiredKeys > 0) lines.push(`state: ${n(cache.expiredKeys)} quiet keys freed (no event for their longest window plus grace), as a live worker frees them`);
  if (c.lookupMisses > 0) lines.push(`table lookups without a version ${n(c.lookupMisses)} (their columns are null)`);
  for (const [o, l] of Object.entries(s.labels)) {
    lines.push(`labels for ${o}: ${n(l.events)} label events${l.malformed ? ` (${n(l.malformed)} malformed)` : ''}, label data up to ${l.dataEnd === null ? '-' : new Date(l.dataEnd).toISOString()}`);
  }
  const dirs = [...new Set(s.files.map((f) => f.path.replace(/\/part-\d+\.parquet$/, '')))];
  for (const d of dirs) lines.push(`output: ${d}/`);
  if (s.deadLetters.count > 0) lines.push(`dead letters: ${n(s.deadLetters.count)} in ${s.deadLetters.dir}/ (one NDJSON file per partition, with the reason)`);
  if (s.lateRecords.count > 0) lines.push(`late records: ${n(s.lateRecords.count)} in ${s.lateRecords.dir}/`);
  return lines.join('\n');
}
