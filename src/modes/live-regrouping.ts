import type { CompiledPlan } from '../plan/compile.js';

/**
 * Live regrouping needs repartition topics, which are not built yet. Until then a live run or
 * bootstrap of such a topology stops before touching Kafka, rather than computing a regrouped
 * group per partition (values that would depend on the partitioning and differ from replay).
 */
export function refuseLiveRegrouping(plan: CompiledPlan, command: 'run' | 'bootstrap'): void {
  const groups = plan.topology.groups.filter((g) => g.regroup === true).map((g) => g.name);
  if (groups.length === 0) return;
  throw new Error(
    `${plan.file}: topology ${plan.topology.name} regroups by ${groups.join(', ')} (regroupBy), and live regrouping is not available yet, so \`skewless ${command}\` cannot serve it; ` +
      'use `skewless backfill` (files or --from-kafka) for its training data, or remove the regroupBy features to run live',
  );
}
