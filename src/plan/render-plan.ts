import { formatDuration } from '../dsl/duration.js';
import type { FeatureNode, WindowShape } from '../dsl/nodes.js';
import type { CompiledPlan } from './compile.js';

function feature(f: FeatureNode): string {
  if (f.kind === 'asOf') return `value (${f.type}) of the version of table ${f.table} valid at t${f.lag > 0 ? ` − ${formatDuration(f.lag)}` : ''}`;
  if (f.kind === 'sinceLast') return `timeSinceLast(${f.unit}) by ${f.group}`;
  const incl =
    (f.includeCurrent ? ', including current' : '') + (f.tile > 0 ? `, tiles of ${formatDuration(f.tile)}` : '') + (f.asOf !== undefined ? `, as of t − ${formatDuration(f.asOf)}` : '');
  return `${f.agg.kind}${f.agg.value ? '(value)' : '()'}${f.agg.by ? ' per category' : ''} over lookback ${formatDuration(f.size)}${incl} by ${f.group}`;
}

function shape(w: WindowShape): string {
  switch (w.kind) {
    case 'tumbling':
      return `tumbling ${formatDuration(w.size)}`;
    case 'hopping':
      return `hopping ${formatDuration(w.size)} every ${formatDuration(w.advance)}`;
    case 'calendar':
      return `calendar ${w.unit} in ${w.timeZone}`;
    case 'session':
      return `session gap ${formatDuration(w.gap)}`;
  }
}

/** The operator graph as people read it; `--json` prints the canonical plan instead. */
export function renderPlan(plan: CompiledPlan): string {
  const t = plan.topology;
  const lines: string[] = [`topology ${t.name}  version ${plan.version}`];
  if (t.description) lines.push(`  ${t.description}`);
  lines.push('', 'sources (merge rank in brackets):');
  for (const s of [...t.sources].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rank = plan.engineSources.indexOf(s.name);
    const role = rank >= 0 ? `[${rank}]` : s.table !== undefined ? '[unused table]' : '[labels only]';
    const table = s.table === undefined ? '' : `  table, retention=${formatDuration(s.table.retention)}${s.table.regroup === true ? ', keyed by another entity (regrouped)' : ''}`;
    lines.push(`  ${role} ${s.name}  topic=${s.topic}  grace=${formatDuration(s.grace)}  late=${s.late}${table}  schema=${plan.schemas.get(s.name)?.fingerprint.slice(0, 12)}`);
  }
  lines.push('', 'streams:');
  for (const s of t.streams) lines.push(`  ${s.id}${s.parent ? ` <- ${s.kind}(${s.parent})` : ' (source)'}`);
  lines.push('', 'groups:');
  for (const g of t.groups) lines.push(`  ${g.name} on ${g.stream}${g.regroup === true ? ' (regrouped: its own tasks, keyed by hash)' : ''}`);
  for (const o of [...t.outputs].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    lines.push('', `features ${o.name} -> topic ${o.topic} (one row per ${o.stream} event):`);
    for (const [n, f] of [...o.features].sort(([a], [b]) => (a < b ? -1 : 1))) lines.push(`  ${n.padEnd(28)} ${feature(f)}`);
    for (const [n] of o.derived) lines.push(`  ${n.padEnd(28)} derived`);
    for (const [n, l] of o.labels) lines.push(`  ${n.padEnd(28)} label (${l.type})`);
    if (o.labelJoin) lines.push(`  ${o.labelJoin.label.padEnd(28)} label joined from ${o.labelJoin.source}, maturity ${formatDuration(o.labelJoin.within)}`);
  }
  for (const w of t.windowOutputs) {
    lines.push('', `windows ${w.name} -> topic ${w.topic}: ${shape(w.window)} by ${w.group}, emit ${w.emit}, grace ${formatDuration(w.grace)}`);
    for (const [n, a] of w.aggs) lines.push(`  ${n.padEnd(28)} ${a.kind}`);
  }
  return lines.join('\n');
}
