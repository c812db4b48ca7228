import type { CompiledPlan } from '../plan/compile.js';

/**
 * Bootstrap builds live state from a replay, and a replay's regrouped tasks keep no state (their
 * shuffle is on disk, not in repartition topics). Until bootstrap writes regrouped state and
 * row-assembler state too, it stops before touching Kafka; `skewless run` builds the same state
 * by reading the input from its start.
 */
export function refuseRegroupedBootstrap(plan: CompiledPlan): void {
  const groups = plan.topology.groups.filter((g) => g.regroup === true).map((g) => g.name);
  if (groups.length === 0) return;
  throw new Error(
    `${plan.file}: topology ${plan.topology.name} regroups by ${groups.join(', ')} (regroupBy), and \`skewless bootstrap\` cannot build regrouped state yet; ` +
      'start `skewless run` on a new --group instead (it reads the inputs from their start), or use `skewless backfill` for training data',
  );
}
