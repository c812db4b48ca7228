/** Prometheus series of one live task, refreshed after each commit. */
import type { MetricsRegistry } from '../../serve/metrics.js';
import type { LiveTask } from './live-task.js';

export function publishTaskMetrics(metrics: MetricsRegistry, lt: LiveTask, parity: boolean): void {
  const { task } = lt;
  const labels = { partition: String(task.partition) };
  const c = task.counters;
  metrics.set('skewless_records_total', 'counter', 'Input records applied (including late and dead-lettered)', c.processed, labels);
  metrics.set('skewless_features_total', 'counter', 'Feature vectors emitted', c.emitted, labels);
  metrics.set('skewless_late_total', 'counter', 'Late records (dropped or side output)', c.late, labels);
  metrics.set('skewless_dead_letters_total', 'counter', 'Records dead-lettered with a reason', c.deadLetters, labels);
  // A table keyed by another entity is looked up in the regrouped task of this partition.
  const misses = c.lookupMisses + (lt.regroup?.lookupMisses ?? 0);
  metrics.set('skewless_lookup_misses_total', 'counter', 'Table lookups (asOf) of a key without a version at the time asked', misses, labels);
  metrics.set('skewless_merge_skips_total', 'counter', 'Idle inputs skipped by the canonical merge', c.mergeSkips, labels);
  const cache = task.cacheStats;
  // A regrouped task's keys (the entities this partition answers for) count too.
  const regrouped = lt.regroup?.cacheStats ?? { cachedKeys: 0, evictions: 0 };
  metrics.set('skewless_state_cached_keys', 'gauge', 'Keys whose lookback state is in memory', cache.cachedKeys + regrouped.cachedKeys, labels);
  metrics.set('skewless_state_cache_evictions_total', 'counter', 'Keys evicted from memory at checkpoints since start (read back when they come again)', cache.evictions + regrouped.evictions, labels);
  // Regrouped keys (their timelines and tables' versions) count too.
  metrics.set('skewless_state_expired_keys_total', 'counter', 'Quiet keys whose stored events (and head, when nothing reads it) the sweep freed since start', cache.expiredKeys + (lt.regroup?.expiredKeys ?? 0), labels);
  const rg = lt.regroup;
  if (rg !== undefined) {
    metrics.set('skewless_regroup_held', 'gauge', 'Regroup messages held until every upstream watermark passes them', rg.held, labels);
    metrics.set('skewless_regroup_waiting_rows', 'gauge', 'Rows waiting for their regrouped features', rg.waitingRows, labels);
    metrics.set('skewless_regroup_idle_releases_total', 'counter', 'Regrouped releases past an idle upstream (where live may differ from replay)', rg.idleReleases, labels);
  }
  if (parity) metrics.set('skewless_parity_samples_total', 'counter', 'Served vectors written to the parity log since the task opened', lt.paritySamples, labels);
  if (Number.isFinite(task.currentStreamTime)) {
    // Wall clock here feeds a metric only, never an output.
    metrics.set('skewless_stream_time_lag_seconds', 'gauge', 'Wall clock minus stream time', (Date.now() - task.currentStreamTime) / 1000, labels);
  }
}
