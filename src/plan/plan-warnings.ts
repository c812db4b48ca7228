import type { AggNode } from '../dsl/nodes.js';
import type { CompiledPlan } from './compile.js';

function unboundedState(a: AggNode): string | null {
  if (a.kind === 'countDistinct' && a.params.exactUpTo === undefined) {
    return 'countDistinct keeps every distinct value of its window in state (one entry each, per key); declare countDistinct(fn, { exactUpTo: n }) to bound it (a HyperLogLog answers above n)';
  }
  if (a.kind === 'mostFrequent') return 'mostFrequent keeps a count per distinct value of its window in state (per key)';
  const bucketed = a.kind === 'histogram' || a.kind === 'countBy' || a.kind === 'sumBy' || a.kind === 'meanBy';
  if (bucketed && a.params.maxCategories !== undefined) {
    const what = a.kind === 'histogram' || a.kind === 'countBy' ? 'a count' : 'a sum and count';
    return `${a.kind} with maxCategories keeps ${what} per distinct category of its window in state (per key); declare categories: [...] to bound it`;
  }
  return null;
}

/** What `plan` points out without refusing: aggregations whose state grows with the data. */
export function planWarnings(plan: CompiledPlan): string[] {
  const t = plan.topology;
  const out: string[] = [];
  for (const o of [...t.outputs].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const [n, f] of [...o.features].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const w = f.kind === 'lookback' ? unboundedState(f.agg) : null;
      if (w !== null) out.push(`feature ${o.name}.${n}: ${w}`);
    }
  }
  const lookedUp = new Set(t.outputs.flatMap((o) => [...o.features].flatMap(([, f]) => (f.kind === 'asOf' ? [f.table] : []))));
  for (const s of [...t.sources].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (s.table !== undefined && !lookedUp.has(s.name)) out.push(`table ${s.name}: no feature looks it up (asOf), so it is not read; remove it or add a lookup`);
  }
  for (const wo of [...t.windowOutputs].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const [n, a] of [...wo.aggs].sort(([x], [y]) => (x < y ? -1 : 1))) {
      const w = unboundedState(a);
      if (w !== null) out.push(`window ${wo.name}.${n}: ${w}`);
    }
  }
  return out;
}
