/**
 * Load topology files for the registry commands: their compiled plans, their subjects (each
 * once) and the topology field problems, which need no registry but belong in the same report.
 */
import { resolve } from 'node:path';
import { loadTopology } from '../plan/load-topology.js';
import type { CompiledPlan } from '../plan/compile.js';
import { topologySubjects, uniqueSubjects, valueSubject, type TopologySubject } from './registry-subjects.js';
import { checkTopologyFields, type TopologyFieldProblem } from './topology-field-check.js';

export interface TopologyFieldFinding extends TopologyFieldProblem {
  readonly subject: string;
  readonly topology: string;
  readonly schema: string;
}

export interface LoadedTopologies {
  readonly plans: readonly CompiledPlan[];
  readonly subjects: readonly TopologySubject[];
  readonly fieldProblems: readonly TopologyFieldFinding[];
}

export async function loadTopologies(files: readonly string[], cwd: string): Promise<LoadedTopologies> {
  const plans: CompiledPlan[] = [];
  const all: TopologySubject[] = [];
  const fieldProblems: TopologyFieldFinding[] = [];
  for (const file of files) {
    const plan = await loadTopology(resolve(cwd, file));
    plans.push(plan);
    const subjects = topologySubjects(plan, cwd);
    all.push(...subjects);
    for (const p of checkTopologyFields(plan)) {
      const source = plan.topology.sources.find((s) => s.name === p.source);
      if (!source) continue;
      const subject = valueSubject(source.topic);
      const schema = subjects.find((s) => s.subject === subject)?.origin ?? source.schema;
      fieldProblems.push({ ...p, subject, topology: plan.topology.name, schema });
    }
  }
  return { plans, subjects: uniqueSubjects(all), fieldProblems };
}
