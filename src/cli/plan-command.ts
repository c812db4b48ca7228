import { canonicalJson } from '../plan/canonical-json.js';
import { loadCheckedTopology } from './checked-topology.js';
import { renderPlan } from '../plan/render-plan.js';

export async function runPlan(file: string, opts: { json?: boolean }): Promise<void> {
  const plan = await loadCheckedTopology(file);
  if (opts.json) process.stdout.write(`${JSON.stringify({ version: plan.version, plan: JSON.parse(canonicalJson(plan.canonical)) }, null, 2)}\n`);
  else process.stdout.write(`${renderPlan(plan)}\n`);
}
