import type { AggNode, AsOfNode, FeatureNode, GroupFeatureNode, LabelJoinNode, SourceNode, TimeUnit, UserFn, WindowOutputNode } from '../dsl/nodes.js';
import type { AggregationDef, ColumnType } from '../ops/aggregation.js';
import { aggregationFor } from '../ops/aggregation-registry.js';
import { categorizedColumn } from '../ops/aggregations/bucketed.js';
import { functionFingerprint } from '../plan/function-fingerprint.js';
import type { CompiledPlan } from '../plan/compile.js';
import type { LookbackAggSlot, LookbackWindowSpec, TiledWindowSpec, TimelineLayout } from '../time/lookback-window.js';
import type { OutputColumn } from './outputs.js';

/**
 * The compiled plan turned into what the task loop executes: per source a tree of stream
 * steps, each with the groups and outputs attached to it. Column order everywhere is the
 * canonical (name-sorted) order of the plan, so reordering keys in a topology file changes
 * neither the version nor an output byte.
 */

export interface GroupProgram {
  readonly name: string;
  readonly index: number;
  readonly key: UserFn;
  readonly valueFns: readonly UserFn[];
  readonly layout: TimelineLayout;
  /** Size of the group's result array (one slot per lookback aggregation and since-last feature). */
  readonly width: number;
  readonly hasTimeline: boolean;
  readonly windowOps: readonly WindowOpProgram[];
  /** Declared with regroupBy: the origin task only routes its events; RegroupedTasks keep its state. */
  readonly regroup: boolean;
}

/**
 * One read of regrouped state for an output row at qt = t − lag, and the output columns it
 * fills: a regrouped group's slots (one query per group and lag), or the values of a table
 * keyed by another entity (one query per lookup).
 */
export interface RegroupQueryProgram {
  /** Position in OutputProgram.regroupQueries. */
  readonly index: number;
  /** What it reads: a group's index, or regroupTarget(program, table) for a table (see RegroupUpdate.group). */
  readonly group: number;
  readonly lag: number;
  readonly columns: readonly number[];
  /** Slots of the group's result array, or value columns of the table's versions. */
  readonly slots: readonly number[];
  /** A table read: its lookup (Program.lookups), whose key function gives the table key. */
  readonly lookup?: number;
}

/** A table of versions (t.table): its source and the value functions its lookups read. */
export interface TableProgram {
  readonly name: string;
  /** Position in Program.tables. */
  readonly index: number;
  readonly retention: number;
  /** Keyed by another entity: versions live in RegroupedTasks, lookups are regroup queries. */
  readonly regroup: boolean;
  /** What a version stores: one value per function, in this order, of the type its lookup columns declare. */
  readonly valueFns: readonly UserFn[];
  readonly valueTypes: ReadonlyArray<'double' | 'string'>;
}

/**
 * One as-of lookup of a table by the events of a stream: the version at t − lag, and the
 * values its features read, each into a slot of the task's lookup row.
 */
export interface LookupProgram {
  /** Position in Program.lookups. */
  readonly index: number;
  readonly table: number;
  readonly key: UserFn;
  readonly lag: number;
  /** [value function of the table, slot in the lookup row]. */
  readonly values: ReadonlyArray<readonly [number, number]>;
}

export interface WindowOpProgram {
  readonly name: string;
  readonly node: WindowOutputNode;
  readonly aggs: ReadonlyArray<{ readonly def: AggregationDef; readonly column: number }>;
  readonly columns: readonly OutputColumn[];
}

export interface OutputProgram {
  readonly name: string;
  /** Position in Program.outputs. */
  readonly index: number;
  readonly topic: string;
  readonly columns: readonly OutputColumn[];
  /** For each feature column: [group index, slot in that group's result array]. */
  readonly featureSlots: ReadonlyArray<readonly [number, number]>;
  readonly derived: ReadonlyArray<readonly [string, UserFn]>;
  readonly labels: ReadonlyArray<UserFn>;
  readonly labelJoin?: LabelJoinNode;
  /** Reads of regrouped groups; empty for an output computed entirely in its own task. */
  readonly regroupQueries: readonly RegroupQueryProgram[];
}

export interface StreamProgram {
  readonly id: string;
  readonly kind: 'source' | 'map' | 'filter';
  readonly fn?: UserFn;
  readonly children: StreamProgram[];
  /** Groups whose state lives in this task. */
  readonly groups: GroupProgram[];
  /** Groups declared with regroupBy: this task routes their events to RegroupedTasks. */
  readonly regroups: GroupProgram[];
  readonly outputs: OutputProgram[];
  /** Table lookups the outputs of this stream read in this task. */
  readonly lookups: LookupProgram[];
  /** Lookups of tables keyed by another entity: their keys route regroup queries. */
  readonly remoteLookups: LookupProgram[];
}

export interface SourceProgram {
  readonly node: SourceNode;
  readonly rank: number;
  readonly root: StreamProgram;
  /** Set for a table: its records are versions, kept for lookups, not events. */
  readonly table?: TableProgram;
}

export interface Program {
  readonly plan: CompiledPlan;
  readonly version: string;
  readonly sources: readonly SourceProgram[];
  readonly groups: readonly GroupProgram[];
  readonly outputs: readonly OutputProgram[];
  readonly windowOps: readonly WindowOpProgram[];
  /** The groups declared with regroupBy (a subset of groups); empty for most topologies. */
  readonly regroups: readonly GroupProgram[];
  /**
   * How far below an origin task's stream time its future UPDATEs can lie: the largest grace
   * of a source feeding a regrouping. Its watermark is stream time minus this.
   */
  readonly regroupGrace: number;
  readonly tables: readonly TableProgram[];
  readonly lookups: readonly LookupProgram[];
  /**
   * Lookup results live in one extra row after the groups' (index groups.length, this wide),
   * so output columns read them through featureSlots like group features.
   */
  readonly lookupWidth: number;
}

/**
 * Regroup messages address a regrouped group by its index and a table keyed by another entity
 * by the number of groups plus its index, so one field routes both.
 */
export const regroupTarget = (program: Pick<Program, 'groups'>, table: number): number => program.groups.length + table;

/** Does anything of the program live in RegroupedTasks (a regroupBy, a table keyed by another entity)? */
export function hasRegrouping(program: Program): boolean {
  return program.regroups.length > 0 || program.tables.some((t) => t.regroup);
}

const UNIT_MS: Readonly<Record<TimeUnit, number>> = { ms: 1, seconds: 1000, minutes: 60_000, hours: 3_600_000, days: 86_400_000 };

const byName = <T extends readonly [string, unknown]>(a: T, b: T): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

class GroupAssembler {
  readonly valueFns: UserFn[] = [];
  private readonly valueIds: string[] = [];
  private readonly windows = new Map<string, { size: number; includeCurrent: boolean; tile: number; aggs: LookbackAggSlot[] }>();
  private readonly sinceLast: Array<{ out: number; unitMs: number }> = [];
  private readonly slotIds = new Map<string, number>();
  width = 0;

  /** The value column an aggregation reads (−1 for count()); a bucketed one reads (category, value) pairs. */
  column(agg: AggNode): number {
    if (agg.by !== undefined) return this.addColumn(`by/${functionFingerprint(agg.by)}/${agg.value ? functionFingerprint(agg.value) : ''}`, categorizedColumn(agg.by, agg.value));
    return agg.value ? this.addColumn(functionFingerprint(agg.value), agg.value) : -1;
  }

  private addColumn(id: string, fn: UserFn): number {
    const i = this.valueIds.indexOf(id);
    if (i >= 0) return i;
    this.valueIds.push(id);
    this.valueFns.push(fn);
    return this.valueFns.length - 1;
  }

  /** Slot of a feature in the group's result array; identical features share one slot. */
  slot(f: GroupFeatureNode): number {
    if (f.kind === 'sinceLast') {
      const id = `since/${f.unit}`;
      const known = this.slotIds.get(id);
      if (known !== undefined) return known;
      const out = this.width++;
      this.sinceLast.push({ out, unitMs: UNIT_MS[f.unit] });
      this.slotIds.set(id, out);
      return out;
    }
    const def = aggregationFor(f.agg);
    const column = this.column(f.agg);
    const id = `lb/${f.size}/${f.includeCurrent}/${f.tile}/${def.kind}/${JSON.stringify(def.params)}/${column}`;
    const known = this.slotIds.get(id);
    if (known !== undefined) return known;
    const wid = `${f.size}/${f.includeCurrent}/${f.tile}`;
    let w = this.windows.get(wid);
    if (!w) {
      w = { size: f.size, includeCurrent: f.includeCurrent, tile: f.tile, aggs: [] };
      this.windows.set(wid, w);
    }
    const out = this.width++;
    w.aggs.push({ def, column, out });
    this.slotIds.set(id, out);
    return out;
  }

  layout(): TimelineLayout {
    const all = [...this.windows.values()];
    const windows: LookbackWindowSpec[] = all.filter((w) => w.tile === 0);
    const tiledWindows: TiledWindowSpec[] = all.filter((w) => w.tile > 0);
    return {
      windows,
      tiledWindows,
      columns: this.valueFns.length,
      sinceLast: this.sinceLast,
      // Raw events are kept for exact windows and for the open tile of tiled ones.
      maxWindow: Math.max(windows.reduce((m, w) => Math.max(m, w.size), 0), tiledWindows.reduce((m, w) => Math.max(m, w.tile), 0)),
    };
  }
}

function typeOf(f: FeatureNode): ColumnType {
  if (f.kind === 'asOf') return f.type;
  return f.kind === 'sinceLast' ? 'double' : aggregationFor(f.agg).resultType;
}

/** Lookups and the table value functions they read; identical lookups and values share. */
class LookupAssembler {
  readonly tables: Array<TableProgram & { valueFns: UserFn[]; valueTypes: Array<'double' | 'string'> }>;
  readonly lookups: Array<LookupProgram & { values: Array<readonly [number, number]> }> = [];
  private readonly valueIds: string[][];
  private readonly lookupIds: string[] = [];
  private readonly slotIds = new Map<string, number>();
  width = 0;

  constructor(tables: readonly SourceNode[]) {
    this.tables = tables.map((s, index) => ({ name: s.name, index, retention: s.table!.retention, regroup: s.table!.regroup === true, valueFns: [], valueTypes: [] }));
    this.valueIds = tables.map(() => []);
  }

  slot(f: AsOfNode): number {
    const table = this.tables.findIndex((x) => x.name === f.table);
    const id = `${f.table}/${f.stream}/${functionFingerprint(f.key)}/${f.lag}`;
    let li = this.lookupIds.indexOf(id);
    if (li < 0) {
      li = this.lookups.length;
      this.lookupIds.push(id);
      this.lookups.push({ index: li, table, key: f.key, lag: f.lag, values: [] });
    }
    const valueId = `${f.type}/${functionFingerprint(f.value)}`;
    const known = this.slotIds.get(`${li}/${valueId}`);
    if (known !== undefined) return known;
    let column = this.valueIds[table].indexOf(valueId);
    if (column < 0) {
      column = this.valueIds[table].length;
      this.valueIds[table].push(valueId);
      this.tables[table].valueFns.push(f.value);
      this.tables[table].valueTypes.push(f.type);
    }
    const out = this.width++;
    this.lookups[li].values.push([column, out]);
    this.slotIds.set(`${li}/${valueId}`, out);
    return out;
  }
}

export function buildProgram(plan: CompiledPlan): Program {
  const t = plan.topology;
  const groupNames = [...t.groups].map((g) => g.name).sort();
  const assemblers = new Map(groupNames.map((n) => [n, new GroupAssembler()]));
  const tableSources = plan.engineSources.map((n) => t.sources.find((s) => s.name === n)!).filter((s) => s.table !== undefined);
  const lookupAsm = new LookupAssembler(tableSources);
  const lookupRow = groupNames.length;
  const lookupsOfStream = new Map<string, Set<number>>();
  const featureSlot = (f: FeatureNode): readonly [number, number] => {
    if (f.kind !== 'asOf') return [groupNames.indexOf(f.group), assemblers.get(f.group)!.slot(f)];
    const slot = lookupAsm.slot(f);
    const lookup = lookupAsm.lookups.find((l) => l.values.some(([, s]) => s === slot))!;
    let set = lookupsOfStream.get(f.stream);
    if (!set) lookupsOfStream.set(f.stream, (set = new Set()));
    set.add(lookup.index);
    return [lookupRow, slot];
  };

  const outputs: OutputProgram[] = [...t.outputs]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((o, index) => {
      const features = [...o.features].sort(byName);
      const featureSlots = features.map(([, f]) => featureSlot(f));
      const derived = [...o.derived].sort(byName);
      const labels = [...o.labels].sort(byName);
      const regroupQueries: RegroupQueryProgram[] = [];
      features.forEach(([, f], column) => {
        if (f.kind === 'asOf') {
          const table = lookupAsm.tables.find((x) => x.name === f.table)!;
          if (!table.regroup) return;
          // The version's value column: the lookup row slot featureSlot gave maps back to it.
          const slot = featureSlots[column][1];
          const lookup = lookupAsm.lookups.find((l) => l.values.some(([, s]) => s === slot))!;
          const [valueColumn] = lookup.values.find(([, s]) => s === slot)!;
          let q = regroupQueries.find((x) => x.lookup === lookup.index);
          if (!q) {
            q = { index: regroupQueries.length, group: groupNames.length + table.index, lag: f.lag, columns: [], slots: [], lookup: lookup.index };
            regroupQueries.push(q);
          }
          (q.columns as number[]).push(column);
          (q.slots as number[]).push(valueColumn);
          return;
        }
        if (f.kind !== 'lookback' || f.asOf === undefined) return;
        const [group, slot] = featureSlots[column];
        let q = regroupQueries.find((x) => x.group === group && x.lag === f.asOf);
        if (!q) {
          q = { index: regroupQueries.length, group, lag: f.asOf, columns: [], slots: [] };
          regroupQueries.push(q);
        }
        (q.columns as number[]).push(column);
        (q.slots as number[]).push(slot);
      });
      const columns: OutputColumn[] = [
        ...features.map(([name, f]) => ({ name, type: typeOf(f), role: 'feature' as const })),
        ...derived.map(([name]) => ({ name, type: 'double' as const, role: 'derived' as const })),
        ...labels.map(([name, l]) => ({ name, type: l.type, role: 'label' as const })),
      ];
      return { name: o.name, index, topic: o.topic, columns, featureSlots, derived, labels: labels.map(([, l]) => l.fn), labelJoin: o.labelJoin, regroupQueries };
    });

  const windowOps: WindowOpProgram[] = [...t.windowOutputs]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((w) => {
      const asm = assemblers.get(w.group)!;
      const aggs = [...w.aggs].sort(byName);
      return {
        name: w.name,
        node: w,
        aggs: aggs.map(([, a]) => ({ def: aggregationFor(a), column: asm.column(a) })),
        columns: aggs.map(([name, a]) => ({ name, type: aggregationFor(a).resultType, role: 'feature' as const })),
      };
    });

  const groups: GroupProgram[] = groupNames.map((name, index) => {
    const g = t.groups.find((x) => x.name === name)!;
    const asm = assemblers.get(name)!;
    const layout = asm.layout();
    return {
      name,
      index,
      key: g.key,
      valueFns: asm.valueFns,
      layout,
      width: asm.width,
      hasTimeline: layout.windows.length > 0 || layout.tiledWindows.length > 0 || layout.sinceLast.length > 0,
      windowOps: windowOps.filter((w) => w.node.group === name),
      regroup: g.regroup === true,
    };
  });

  const streamPrograms = new Map<string, StreamProgram>();
  for (const s of [...t.streams].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const all = [...(lookupsOfStream.get(s.id) ?? [])].sort((a, b) => a - b).map((i) => lookupAsm.lookups[i]);
    const lookups = all.filter((l) => !lookupAsm.tables[l.table].regroup);
    const remoteLookups = all.filter((l) => lookupAsm.tables[l.table].regroup);
    streamPrograms.set(s.id, { id: s.id, kind: s.kind, fn: s.fn, children: [], groups: [], regroups: [], outputs: [], lookups, remoteLookups });
  }
  for (const s of t.streams) if (s.parent) streamPrograms.get(s.parent)!.children.push(streamPrograms.get(s.id)!);
  for (const p of streamPrograms.values()) p.children.sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const g of groups) {
    const stream = streamPrograms.get(t.groups.find((x) => x.name === g.name)!.stream)!;
    (g.regroup ? stream.regroups : stream.groups).push(g);
  }
  for (const o of outputs) {
    const node = t.outputs.find((x) => x.name === o.name)!;
    streamPrograms.get(node.stream)!.outputs.push(o);
    for (const [n, f] of node.features) {
      if (f.kind === 'asOf') continue;
      const gStream = t.groups.find((g) => g.name === f.group)!.stream;
      if (gStream !== node.stream) {
        throw new Error(`feature ${n} of output ${o.name}: group ${f.group} is defined on stream ${gStream}, not on ${node.stream}; features must group the stream they are emitted for`);
      }
    }
  }

  const sources: SourceProgram[] = plan.engineSources.map((name, rank) => {
    const table = lookupAsm.tables.find((x) => x.name === name);
    return { node: t.sources.find((s) => s.name === name)!, rank, root: streamPrograms.get(name)!, ...(table === undefined ? {} : { table }) };
  });
  const regroups = groups.filter((g) => g.regroup);
  const regroupSources = new Set(t.groups.filter((g) => g.regroup === true).map((g) => t.streams.find((s) => s.id === g.stream)!.source));
  // A regrouped table's versions are updates too: they may lie its grace below stream time.
  for (const table of lookupAsm.tables) if (table.regroup) regroupSources.add(table.name);
  // Queries too: a RegroupedTask keeps what a query at t − lag of an accepted event can read.
  for (const o of t.outputs) if (outputs.find((x) => x.name === o.name)!.regroupQueries.length > 0) regroupSources.add(t.streams.find((s) => s.id === o.stream)!.source);
  const regroupGrace = t.sources.filter((s) => regroupSources.has(s.name)).reduce((m, s) => Math.max(m, s.grace), 0);
  return { plan, version: plan.version, sources, groups, outputs, windowOps, regroups, regroupGrace, tables: lookupAsm.tables, lookups: lookupAsm.lookups, lookupWidth: lookupAsm.width };
}
