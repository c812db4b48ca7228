import type { Json } from './canonical-json.js';

/** An element of a list that has a name: `{ name: ... }` objects or `[name, value]` pairs. */
function nameOf(v: Json): string | undefined {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string') return v[0];
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.name === 'string') return v.name;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.id === 'string') return v.id;
  return undefined;
}

function show(v: Json | undefined): string {
  if (v === undefined) return '(absent)';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * What differs between two canonical plans, as readable paths: `outputs.card_features.
 * features.amount_mean_7d.window: "7d" → "6d"`. Lists of named things are matched by name, so
 * an added feature reads as one addition rather than a shifted list.
 */
export function diffPlans(before: Json, after: Json, path = ''): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const here = path || '(plan)';
  if (Array.isArray(before) && Array.isArray(after)) {
    const named = [...before, ...after].every((v) => nameOf(v) !== undefined);
    if (named) {
      const a = new Map(before.map((v) => [nameOf(v)!, Array.isArray(v) ? v[1] : v]));
      const b = new Map(after.map((v) => [nameOf(v)!, Array.isArray(v) ? v[1] : v]));
      const out: string[] = [];
      for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
        const p = path ? `${path}.${k}` : k;
        if (!a.has(k)) out.push(`${p}: added`);
        else if (!b.has(k)) out.push(`${p}: removed`);
        else out.push(...diffPlans(a.get(k)!, b.get(k)!, p));
      }
      return out;
    }
    return [`${here}: ${show(before)} → ${show(after)}`];
  }
  if (before !== null && after !== null && typeof before === 'object' && typeof after === 'object' && !Array.isArray(before) && !Array.isArray(after)) {
    const out: string[] = [];
    for (const k of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in before)) out.push(`${p}: added ${show(after[k])}`);
      else if (!(k in after)) out.push(`${p}: removed`);
      else out.push(...diffPlans(before[k], after[k], p));
    }
    return out;
  }
  return [`${here}: ${show(before)} → ${show(after)}`];
}
