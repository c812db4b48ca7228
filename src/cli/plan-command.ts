import { canonicalJson } from '../plan/canonical-json.js';
import { loadCheckedTopology } from './checked-topology.js';
import { planWarnings } from '../plan/plan-warnings.js';
import { renderPlan } from '../plan/render-plan.js';

export async function runPlan(file: string, opts: { json?: boolean }): Promise<void> {
  const plan = await loadCheckedTopology(file);
  const warnings = planWarnings(plan);
  if (opts.json) process.stdout.write(`${JSON.stringify({ version: plan.version, plan: JSON.parse(canonicalJson(plan.canonical)), warnings }, null, 2)}\n`);
  else process.stdout.write(`${renderPlan(plan)}\n${warnings.map((w) => `\nwarning: ${w}`).join('')}${warnings.length > 0 ? '\n' : ''}`);
}
