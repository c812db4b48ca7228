import { regroupedParts, type CompiledPlan } from '../plan/compile.js';

/**
 * Bootstrap builds live state from a replay, and a replay's regrouped tasks keep no state (their
 * shuffle is on disk, not in repartition topics). Until bootstrap writes regrouped state and
 * row-assembler state too, it stops before touching Kafka; `skewless run` builds the same state
 * by reading the input from its start.
 */
export function refuseRegroupedBootstrap(plan: CompiledPlan): void {
  const parts = regroupedParts(plan.topology);
  if (parts.length === 0) return;
  throw new Error(
    `${plan.file}: topology ${plan.topology.name} regroups by another entity (${parts.join(', ')}), and \`skewless bootstrap\` cannot build regrouped state yet; ` +
      'start `skewless run` on a new --group instead (it reads the inputs from their start), or use `skewless backfill` for training data',
  );
}
