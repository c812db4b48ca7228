import { zoneRulesFingerprint } from '../time/zone-rules.js';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { formatDuration } from '../dsl/duration.js';
import type { AggNode, AsOfNode, FeatureNode, GroupFeatureNode, GroupNode, SourceNode, TopologyNode, WindowShape } from '../dsl/nodes.js';
import type { Topology } from '../dsl/topology.js';
import { aggregationFor } from '../ops/aggregation-registry.js';
import { canonicalJson, type Json } from './canonical-json.js';
import { functionFingerprint } from './function-fingerprint.js';
import { loadSchema, type LoadedSchema } from './source-schema.js';

/**
 * Semantic version of the engine's time rules (lookback bounds, lateness, merge order). Part
 * of every topology version: bump it whenever the same input could produce another output.
 */
export const ENGINE_SEMVER = 3;

export interface CompiledPlan {
  readonly topology: TopologyNode;
  readonly file: string;
  readonly version: string;
  readonly canonical: Json;
  readonly schemas: ReadonlyMap<string, LoadedSchema>;
  /**
   * Sources the engine consumes, in canonical order: their index is the merge rank. Tables come
   * first, so a version valid at exactly t is applied before an event at t and seen by it.
   */
  readonly engineSources: readonly string[];
  /** Sources read only to label training data. */
  readonly labelSources: readonly string[];
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byFirst = <T extends readonly [string, unknown]>(a: T, b: T): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function aggJson(a: AggNode): Json {
  const def = aggregationFor(a);
  const json = { kind: a.kind, semver: def.semver, params: { ...a.params }, value: a.value ? functionFingerprint(a.value) : null };
  // Only bucketed aggregations have a category function: the others keep the form (and version) they had.
  return a.by === undefined ? json : { ...json, by: functionFingerprint(a.by) };
}

function featureJson(f: FeatureNode): Json {
  if (f.kind === 'asOf') return { kind: f.kind, table: f.table, stream: f.stream, key: functionFingerprint(f.key), lag: formatDuration(f.lag), value: functionFingerprint(f.value), type: f.type };
  if (f.kind === 'sinceLast') return { kind: f.kind, group: f.group, unit: f.unit };
  const base = { kind: f.kind, group: f.group, window: formatDuration(f.size), includeCurrent: f.includeCurrent, agg: aggJson(f.agg) };
  // Exact windows keep the canonical form they had before tiles and lags existed, so their versions do not move.
  const tiled = f.tile > 0 ? { ...base, tile: formatDuration(f.tile) } : base;
  return f.asOf === undefined ? tiled : { ...tiled, asOf: formatDuration(f.asOf) };
}

function windowJson(w: WindowShape): Json {
  switch (w.kind) {
    case 'tumbling':
      return { kind: w.kind, size: formatDuration(w.size) };
    case 'hopping':
      return { kind: w.kind, size: formatDuration(w.size), advance: formatDuration(w.advance) };
    case 'calendar':
      // The zone's rules as this runtime knows them: new tz data that moves its windows is a new version.
      return { kind: w.kind, unit: w.unit, timeZone: w.timeZone, zoneRules: zoneRulesFingerprint(w.timeZone) };
    case 'session':
      return { kind: w.kind, gap: formatDuration(w.gap) };
  }
}

function validate(t: TopologyNode): void {
  const streams = new Map(t.streams.map((s) => [s.id, s]));
  const groups = new Map(t.groups.map((g) => [g.name, g]));
  if (t.sources.length === 0) throw new Error(`topology ${t.name}: declares no source`);
  if (t.outputs.length + t.windowOutputs.length === 0) throw new Error(`topology ${t.name}: declares no output (features or windows)`);
  for (const w of t.windowOutputs) {
    if (groups.get(w.group)?.regroup === true) throw new Error(`window output ${w.name}: windows of regrouped group ${w.group} are not available yet; group by the partition key, or use lookback(..., { asOf }) features`);
  }
  for (const o of t.outputs) {
    if (!streams.has(o.stream)) throw new Error(`output ${o.name}: unknown stream ${o.stream}`);
    const names = new Set<string>();
    for (const [n] of [...o.features, ...o.derived, ...o.labels]) {
      if (names.has(n)) throw new Error(`output ${o.name}: column ${n} is declared twice`);
      names.add(n);
    }
    for (const [n, f] of o.features) {
      if (f.kind === 'asOf') {
        validateLookup(t, n, o.stream, f);
        continue;
      }
      const g = groups.get(f.group);
      if (!g) throw new Error(`feature ${n}: unknown group ${f.group}`);
      validateRegroupedFeature(n, f, g);
    }
    if (o.labelJoin && !t.sources.some((s) => s.name === o.labelJoin?.source)) {
      throw new Error(`output ${o.name}: label source ${o.labelJoin.source} is not declared with t.source`);
    }
  }
}

/** The source a stream reads. */
function sourceOfStream(t: TopologyNode, stream: string): SourceNode | undefined {
  const s = t.streams.find((x) => x.id === stream);
  return t.sources.find((x) => x.name === s?.source);
}

/**
 * An as-of lookup reads the versions held by the event's own task. Retention must cover what
 * an accepted event can still ask for (t − lag ≥ stream time − grace − lag), so dropping old
 * versions never changes a lookup.
 */
function validateLookup(t: TopologyNode, name: string, outputStream: string, f: AsOfNode): void {
  const table = t.sources.find((s) => s.name === f.table);
  if (table?.table === undefined) throw new Error(`feature ${name}: ${f.table} is not a table declared with t.table`);
  if (f.stream !== outputStream) throw new Error(`feature ${name}: the lookup of table ${f.table} is declared on stream ${f.stream}, not on ${outputStream}; look the table up from the stream the features are emitted for`);
  const source = sourceOfStream(t, f.stream)!;
  if (source.table !== undefined) throw new Error(`feature ${name}: table ${source.name} cannot look up a table; look it up from an event stream`);
  const needed = f.lag + source.grace;
  if (table.table.retention < needed) {
    throw new Error(
      `feature ${name}: the retention ${formatDuration(table.table.retention)} of table ${f.table} is shorter than the lookup's lag ${formatDuration(f.lag)} plus the grace ${formatDuration(source.grace)} of source ${source.name}; ` +
        `raise it to at least ${formatDuration(needed)}, so an accepted event never asks for a version already dropped`,
    );
  }
}

/** A regrouped group's features are read as of t − lag in another task: only lag-declared lookbacks fit that. */
function validateRegroupedFeature(name: string, f: GroupFeatureNode, g: GroupNode): void {
  if (g.regroup !== true) {
    if (f.kind === 'lookback' && f.asOf !== undefined) {
      throw new Error(`feature ${name}: asOf is for groups declared with regroupBy; group ${g.name} is keyed within the partition key, so its features are exact at t (remove asOf)`);
    }
    return;
  }
  const fix = `group ${g.name} is a regrouping: its features are computed in the tasks that own its keys and read as of t − lag`;
  if (f.kind !== 'lookback') throw new Error(`feature ${name}: timeSinceLast is not available on a regrouped group yet (${fix}); use lookback(..., { asOf })`);
  if (f.asOf === undefined) {
    throw new Error(
      `feature ${name}: a lookback of regrouped group ${g.name} needs asOf, the declared staleness (e.g. lookback('1h', { asOf: '5m' })): ` +
        'its value covers (t − asOf − W, t − asOf], so it does not depend on which partition saw which event first',
    );
  }
  if (f.tile > 0 || f.includeCurrent) throw new Error(`feature ${name}: tile and includeCurrent are not available on a regrouped group (${fix}); remove them`);
}

/** A table's retention joins its source's canonical form; plain sources keep the form they had. */
function sourceJson(s: SourceNode, json: Record<string, Json>): Json {
  if (s.table === undefined) return json;
  const retention = formatDuration(s.table.retention);
  return { ...json, table: s.table.regroup === true ? { retention, regroup: true } : { retention } };
}

/**
 * What of the topology lives in regrouped tasks, for messages: groups declared with regroupBy
 * and tables keyed by another entity (t.table with regroup).
 */
export function regroupedParts(t: TopologyNode): string[] {
  return [
    ...t.groups.filter((g) => g.regroup === true).map((g) => `group ${g.name}`),
    ...t.sources.filter((s) => s.table?.regroup === true).map((s) => `table ${s.name}`),
  ];
}

/** Does the topology group or look up by a key other than the partition key (regroupBy, a regrouped table)? */
export function hasRegrouping(t: TopologyNode): boolean {
  return regroupedParts(t).length > 0;
}

/** Compile a topology into its canonical plan and version hash. */
export function compilePlan(topology: Topology<unknown>, file: string): CompiledPlan {
  const t = topology.node;
  validate(t);
  const baseDir = dirname(file);
  const schemas = new Map<string, LoadedSchema>();
  for (const s of t.sources) schemas.set(s.name, loadSchema(baseDir, s.schema));

  const streamSource = new Map(t.streams.map((s) => [s.id, s.source]));
  const groupSource = new Map(t.groups.map((g) => [g.name, streamSource.get(g.stream) ?? '']));
  const used = new Set<string>();
  for (const o of t.outputs) {
    used.add(streamSource.get(o.stream) ?? '');
    for (const [, f] of o.features) used.add(f.kind === 'asOf' ? f.table : groupSource.get(f.group) ?? '');
  }
  for (const w of t.windowOutputs) used.add(groupSource.get(w.group) ?? '');
  // Groups feed state even when no output reads them yet, so their sources are inputs too.
  for (const g of t.groups) used.add(groupSource.get(g.name) ?? '');
  const sourceNames = [...t.sources].sort(byName).map((s) => s.name);
  const isTable = (n: string): boolean => t.sources.some((s) => s.name === n && s.table !== undefined);
  const engineSources = [...sourceNames.filter((n) => used.has(n) && isTable(n)), ...sourceNames.filter((n) => used.has(n) && !isTable(n))];
  const labelSources = sourceNames.filter((n) => !used.has(n));

  const canonical: Json = {
    format: 1,
    engine: ENGINE_SEMVER,
    name: t.name,
    sources: [...t.sources].sort(byName).map((s) => sourceJson(s, {
      name: s.name,
      topic: s.topic,
      schema: schemas.get(s.name)?.fingerprint ?? '',
      key: functionFingerprint(s.key),
      eventTime: functionFingerprint(s.eventTime),
      grace: formatDuration(s.grace),
      late: s.late,
      maxFutureSkew: s.maxFutureSkew === null ? null : formatDuration(s.maxFutureSkew),
      role: engineSources.includes(s.name) ? 'input' : 'labels',
    })),
    streams: [...t.streams]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((s) => ({ id: s.id, source: s.source, kind: s.kind, parent: s.parent ?? null, fn: s.fn ? functionFingerprint(s.fn) : null })),
    groups: [...t.groups].sort(byName).map((g) => {
      const base = { name: g.name, stream: g.stream, key: functionFingerprint(g.key) };
      return g.regroup === true ? { ...base, regroup: true } : base;
    }),
    outputs: [...t.outputs].sort(byName).map((o) => ({
      name: o.name,
      stream: o.stream,
      topic: o.topic,
      features: [...o.features].sort(byFirst).map(([n, f]) => [n, featureJson(f)]),
      derived: [...o.derived].sort(byFirst).map(([n, fn]) => [n, functionFingerprint(fn)]),
      labels: [...o.labels].sort(byFirst).map(([n, l]) => [n, { type: l.type, fn: functionFingerprint(l.fn) }]),
      labelJoin: o.labelJoin
        ? {
            source: o.labelJoin.source,
            on: functionFingerprint(o.labelJoin.on),
            matchOn: functionFingerprint(o.labelJoin.matchOn),
            within: formatDuration(o.labelJoin.within),
            label: o.labelJoin.label,
          }
        : null,
    })),
    windowOutputs: [...t.windowOutputs].sort(byName).map((w) => ({
      name: w.name,
      group: w.group,
      topic: w.topic,
      window: windowJson(w.window),
      emit: w.emit,
      grace: formatDuration(w.grace),
      aggs: [...w.aggs].sort(byFirst).map(([n, a]) => [n, aggJson(a)]),
    })),
  };
  const version = createHash('sha256').update(canonicalJson(canonical)).digest('hex').slice(0, 16);
  return { topology: t, file, version, canonical, schemas, engineSources, labelSources };
}
