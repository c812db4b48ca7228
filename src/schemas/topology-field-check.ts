/**
 * "Every field the topology reads exists in the reader schema with a usable type."
 *
 * Topology functions are plain JavaScript, so the fields they read are found by static
 * analysis of their sources (see function-fields.ts: best-effort, a read it cannot see is not
 * checked, it never invents one). Checked per source, against the source's .avsc:
 * - every member chain read from a record of the source exists (nested records are followed,
 *   also through a union with null; a chain stops being checked at a non-record type, since
 *   `x.name.length` is JavaScript, not a field);
 * - aggregations that compute on numbers (sum, mean, min, max, stddev, variance, and last
 *   unless declared `type: 'string'`) whose value function is a plain projection
 *   (`x => x.amount`) read int, long, float or double, or a union of null with those;
 * - an event-time function that is a plain projection reads long or int (epoch ms: no
 *   logical type, timestamp-millis or local-timestamp-millis) or string (ISO-8601), or a
 *   union of null with one of those.
 * Functions on a stream after `map` read the mapped value, not the source record: only the
 * map function itself is checked there.
 */
import type { SourceNode, TopologyNode, UserFn } from '../dsl/nodes.js';
import { describeType, parseAvroSchema, type AvroNode, type AvroSchemaJson } from './avro-model.js';
import { functionFields } from './function-fields.js';

export type TopologyFieldRule = 'topology-field-missing' | 'topology-field-not-numeric' | 'topology-field-not-string' | 'topology-event-time-type';

export interface TopologyFieldProblem {
  /** `<source>.<field path>`, e.g. `transactions.amount`. */
  readonly path: string;
  readonly rule: TopologyFieldRule;
  readonly message: string;
  readonly fix: string;
  /** The source (a name declared with t.source). */
  readonly source: string;
}

/** What the check needs of a compiled plan (CompiledPlan fits). */
export interface TopologyWithSchemas {
  readonly topology: TopologyNode;
  readonly schemas: ReadonlyMap<string, { readonly json: object }>;
}

type Expect = 'numeric' | 'eventTime' | 'string' | null;

export interface FnUse {
  readonly source: string;
  /** Human description of where the function is used, e.g. `feature amount_sum_24h (sum)`. */
  readonly where: string;
  readonly fn: UserFn;
  readonly paramIndex: number;
  readonly expect: Expect;
}

const NUMERIC_AGGS = new Set(['sum', 'mean', 'min', 'max', 'stddev', 'variance', 'skewness', 'kurtosis', 'quantile', 'quantiles', 'topK', 'bottomK', 'sumBy', 'meanBy']);
/** Aggregations of a number, or of a string with { type: 'string' }. */
const TYPED_AGGS = new Set(['first', 'last', 'firstK', 'lastK']);
const MILLIS_LOGICAL = new Set(['timestamp-millis', 'local-timestamp-millis']);

function aggExpect(kind: string, params: Readonly<Record<string, unknown>>): Expect {
  if (NUMERIC_AGGS.has(kind)) return 'numeric';
  if (TYPED_AGGS.has(kind)) return params.type === 'string' ? 'string' : 'numeric';
  if (kind === 'mostFrequent') return 'string';
  if (kind === 'histogram') return params.bins !== undefined ? 'numeric' : 'string';
  return null;
}

/** Every function of the topology that reads a source record, with the source it reads. */
export function functionUses(t: TopologyNode): FnUse[] {
  const streams = new Map(t.streams.map((s) => [s.id, s]));
  // The source a stream's values are records of, or null after a map.
  const recordSource = (id: string): string | null => {
    for (let s = streams.get(id); s; s = s.parent === undefined ? undefined : streams.get(s.parent)) {
      if (s.kind === 'map') return null;
      if (s.kind === 'source') return s.source;
    }
    return null;
  };
  const groupStream = new Map(t.groups.map((g) => [g.name, g.stream]));
  const uses: FnUse[] = [];
  const add = (source: string | null, where: string, fn: UserFn | undefined, expect: Expect = null, paramIndex = 0): void => {
    if (source !== null && fn) uses.push({ source, where, fn, paramIndex, expect });
  };
  for (const s of t.sources) {
    add(s.name, `the key of source ${s.name}`, s.key);
    add(s.name, `the event time of source ${s.name}`, s.eventTime, 'eventTime');
  }
  for (const s of t.streams) {
    if (s.kind !== 'source' && s.parent !== undefined) add(recordSource(s.parent), `${s.kind} ${s.id}`, s.fn);
  }
  for (const g of t.groups) add(recordSource(g.stream), `the key of group ${g.name}`, g.key);
  for (const o of t.outputs) {
    const src = recordSource(o.stream);
    for (const [name, f] of o.features) {
      if (f.kind === 'asOf') {
        add(recordSource(f.stream), `the key of lookup ${name}`, f.key);
        add(f.table, `lookup ${name} (value of table ${f.table})`, f.value, f.type === 'string' ? 'string' : 'numeric');
        continue;
      }
      if (f.kind !== 'lookback') continue;
      const fsrc = recordSource(groupStream.get(f.group) ?? '');
      add(fsrc, `feature ${name} (${f.agg.kind})`, f.agg.value, aggExpect(f.agg.kind, f.agg.params));
      add(fsrc, `the category of feature ${name} (${f.agg.kind})`, f.agg.by);
    }
    for (const [name, fn] of o.derived) add(src, `derived feature ${name}`, fn, null, 1); // (vector, event) => ...
    for (const [name, l] of o.labels) add(src, `label ${name}`, l.fn);
    if (o.labelJoin) {
      add(src, `the labelJoin "on" of ${o.name}`, o.labelJoin.on);
      add(o.labelJoin.source, `the labelJoin "matchOn" of ${o.name}`, o.labelJoin.matchOn);
    }
  }
  for (const w of t.windowOutputs) {
    const src = recordSource(groupStream.get(w.group) ?? '');
    for (const [name, a] of w.aggs) {
      add(src, `window ${w.name}.${name} (${a.kind})`, a.value, aggExpect(a.kind, a.params));
      add(src, `the category of window ${w.name}.${name} (${a.kind})`, a.by);
    }
  }
  return uses;
}

type Resolved = { readonly found: true; readonly type: AvroNode; readonly complete: boolean } | { readonly found: false; readonly at: number; readonly parent: AvroNode };

/** Follow a member chain through records (and unions holding records). */
function resolveChain(root: AvroNode, chain: readonly string[]): Resolved {
  let cur = root;
  for (let i = 0; i < chain.length; i++) {
    const records = cur.kind === 'record' ? [cur] : cur.kind === 'union' ? cur.branches.filter((b) => b.kind === 'record') : [];
    if (records.length === 0) return { found: true, type: cur, complete: false };
    let next: AvroNode | undefined;
    for (const r of records) {
      const f = r.kind === 'record' ? r.fields.find((x) => x.name === chain[i]) : undefined;
      if (f) {
        next = f.type;
        break;
      }
    }
    if (!next) return { found: false, at: i, parent: cur };
    cur = next;
  }
  return { found: true, type: cur, complete: true };
}

const nonNull = (n: AvroNode): AvroNode[] => (n.kind === 'union' ? n.branches.filter((b) => !(b.kind === 'primitive' && b.type === 'null')) : [n]);

function isNumeric(n: AvroNode): boolean {
  const bs = nonNull(n);
  return bs.length > 0 && bs.every((b) => b.kind === 'primitive' && ['int', 'long', 'float', 'double'].includes(b.type) && b.logical?.logicalType !== 'decimal');
}

function isStringy(n: AvroNode): boolean {
  const bs = nonNull(n);
  return bs.length > 0 && bs.every((b) => (b.kind === 'primitive' && b.type === 'string') || b.kind === 'enum');
}

/** Why a type cannot be an event time, or null when it can. */
function eventTimeIssue(n: AvroNode): string | null {
  const bs = nonNull(n);
  if (bs.length !== 1) return `it is ${describeType(n)}`;
  const b = bs[0];
  if (b.kind !== 'primitive' || !['int', 'long', 'string'].includes(b.type)) return `it is ${describeType(n)}`;
  if ((b.type === 'int' || b.type === 'long') && b.logical && !MILLIS_LOGICAL.has(b.logical.logicalType)) {
    return `it is ${describeType(b)}, not epoch milliseconds`;
  }
  return null;
}

/** Check every field the topology's functions read against its sources' schemas. */
export function checkTopologyFields(plan: TopologyWithSchemas): TopologyFieldProblem[] {
  const t = plan.topology;
  const sources = new Map<string, SourceNode>(t.sources.map((s) => [s.name, s]));
  const parsed = new Map<string, AvroNode>();
  for (const [name, s] of plan.schemas) parsed.set(name, parseAvroSchema(s.json as AvroSchemaJson));

  // Problems keyed by source, path and rule; the places that read the field are merged.
  const found = new Map<string, { problem: Omit<TopologyFieldProblem, 'message'>; detail: string; where: string[] }>();
  const report = (source: string, chain: readonly string[], rule: TopologyFieldRule, detail: string, fix: string, where: string): void => {
    const path = `${source}.${chain.join('.')}`;
    const key = `${path}\u0000${rule}`;
    const entry = found.get(key);
    if (entry) {
      if (!entry.where.includes(where)) entry.where.push(where);
      return;
    }
    found.set(key, { problem: { path, rule, fix, source }, detail, where: [where] });
  };

  for (const use of functionUses(t)) {
    const schema = parsed.get(use.source);
    const src = sources.get(use.source);
    if (!schema || !src) continue;
    const analysis = functionFields(use.fn, use.paramIndex);
    if (!analysis.parsed) continue;
    const schemaName = src.schema;
    for (const chain of analysis.reads) {
      const r = resolveChain(schema, chain);
      if (!r.found) {
        const missing = chain.slice(0, r.at + 1);
        const have = r.parent.kind === 'record' ? r.parent.fields.map((f) => f.name) : [];
        report(
          use.source,
          missing,
          'topology-field-missing',
          `field "${missing.join('.')}" is not in the schema of source ${use.source} (${schemaName})${have.length ? `; fields there: ${have.join(', ')}` : ''}`,
          `add field "${missing[missing.length - 1]}" to ${schemaName} (with a default, so old records stay readable), or read an existing field`,
          use.where,
        );
      }
    }
    if (!analysis.projection || use.expect === null) continue;
    const r = resolveChain(schema, analysis.projection);
    if (!r.found || !r.complete) continue;
    const chain = analysis.projection;
    if (use.expect === 'numeric' && !isNumeric(r.type)) {
      report(
        use.source,
        chain,
        'topology-field-not-numeric',
        `a numeric aggregation reads field "${chain.join('.')}" of source ${use.source}, which is ${describeType(r.type)}`,
        `aggregate a field of type int, long, float or double (or ["null", one of them]), convert explicitly (e.g. Number(x.${chain.join('.')})), or use count/countDistinct/last with type 'string'`,
        use.where,
      );
    } else if (use.expect === 'string' && !isStringy(r.type)) {
      report(
        use.source,
        chain,
        'topology-field-not-string',
        `an aggregation of strings reads field "${chain.join('.')}" of source ${use.source}, which is ${describeType(r.type)}, not a string`,
        `read a string field, or (first, last, firstK, lastK) drop { type: 'string' } to keep numbers`,
        use.where,
      );
    } else if (use.expect === 'eventTime') {
      const issue = eventTimeIssue(r.type);
      if (issue) {
        report(
          use.source,
          chain,
          'topology-event-time-type',
          `the event time reads field "${chain.join('.')}" of source ${use.source}, but ${issue}`,
          'read a long or int of epoch milliseconds (timestamp-millis) or an ISO-8601 string with offset; convert other units in the eventTime function',
          use.where,
        );
      }
    }
  }
  const problems: TopologyFieldProblem[] = [];
  for (const { problem, detail, where } of found.values()) {
    problems.push({
      path: problem.path,
      rule: problem.rule,
      message: `topology ${t.name}: ${detail} (read by ${where.join(', ')})`,
      fix: problem.fix,
      source: problem.source,
    });
  }
  return problems;
}
