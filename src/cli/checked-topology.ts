/**
 * Load a topology and refuse it when its functions read fields its sources' schemas do not
 * have with a usable type (the check `schemas check` runs): such a topology would run and
 * compute nulls or zeros in every row.
 */
import type { CompiledPlan } from '../plan/compile.js';
import { loadTopology } from '../plan/load-topology.js';
import { checkTopologyFields } from '../schemas/topology-field-check.js';

export async function loadCheckedTopology(file: string): Promise<CompiledPlan> {
  const plan = await loadTopology(file);
  const problems = checkTopologyFields(plan);
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.path}: ${p.rule}: ${p.message}; fix: ${p.fix}`);
    throw new Error(`topology ${file} reads fields its source schemas cannot give (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
  }
  return plan;
}
