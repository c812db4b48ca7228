import { parseDuration, type Duration } from './duration.js';
import type {
  AggNode,
  AsOfNode,
  ColumnType,
  FeatureNode,
  FeatureOutputNode,
  GroupNode,
  LabelNode,
  LatePolicy,
  SourceNode,
  StreamNode,
  TableNode,
  TimeUnit,
  TopologyNode,
  UserFn,
  WindowOutputNode,
  WindowShape,
} from './nodes.js';

/** What an event-time extractor may return: epoch ms, an ISO-8601 string, a Date, or epoch ms as bigint. */
export type EventTimeValue = number | string | Date | bigint;

export interface SourceOptions<V> {
  /** Kafka topic; defaults to the source name. */
  topic?: string;
  /** The value's Avro schema, relative to the topology file (e.g. '../schemas/flight.avsc'). */
  schema: string;
  /** Partitioning / entity key of the record. */
  key: (value: V) => string;
  /** Event time, read from the payload (never the broker timestamp). */
  eventTime: (value: V) => EventTimeValue | null | undefined;
  /** How long after stream time has passed an event it is still accepted. Default 0. */
  grace?: Duration;
  late?: LatePolicy;
  /**
   * How far ahead of stream time an event may be (default '30d'; null: no bound). A record
   * further ahead (a year 2100 date, microseconds where milliseconds are expected) is
   * dead-lettered with the reason and never moves stream time. A task's first records are
   * judged against the median of its first 16 instead, so the very first cannot poison it.
   * Raise it for a source that may legitimately resume after a longer silence.
   */
  maxFutureSkew?: Duration | null;
}

/** A table of versions: each record holds from its validity time until the key's next version. */
export interface TableOptions<V> {
  /** Kafka topic (a compacted one is fine); defaults to the table name. */
  topic?: string;
  /** The value's Avro schema, relative to the topology file. */
  schema: string;
  /**
   * The table's key, which is also its partition key. Without `regroup`, a lookup must give the
   * partition key of the event looking it up, so a key's versions live in that event's task.
   */
  key: (value: V) => string;
  /**
   * The table is keyed by another entity than the events that look it up (a merchant's risk
   * tier, looked up from transactions partitioned by card). Its versions are routed to the tasks
   * that own their key, as regroupBy routes events; a lookup reads the version valid at t − lag
   * once every upstream task has passed t − lag, so its answer does not depend on the
   * partitioning or on timing. Declare the staleness with the lookup's `lag`.
   */
  regroup?: boolean;
  /** From when this version holds: its event time, in the canonical merge like any event's. */
  validFrom: (value: V) => EventTimeValue | null | undefined;
  /**
   * How long versions are kept behind stream time; the latest version at or before that
   * horizon always stays, so a key never loses its current value. It must be at least the
   * lag plus the grace of every stream looking the table up (a plan error says so), so it
   * bounds state without ever changing a lookup.
   */
  retention: Duration;
  /** How far behind stream time a version is still accepted (default 0); later ones are late. */
  grace?: Duration;
  late?: LatePolicy;
  /**
   * How far ahead of the latest record of its task (event or version) a version may be valid
   * from; default null (no bound): versions never move stream time, so a far-ahead one cannot
   * make events late, and a sparse table's versions may lie months apart.
   */
  maxFutureSkew?: Duration | null;
}

/** A table declared with t.table, looked up with stream.asOf(table, key). */
export class Table<V> {
  /** Phantom: carries the version type to lookups. Never set at run time. */
  readonly __version?: V;
  constructor(readonly name: string) {}
}

export interface AsOfOptions {
  /** Read the version valid at t − lag instead of at the event's time t. Default 0. */
  lag?: Duration;
}

/** A lookup of one table by the event's key; `value` turns it into a feature. */
export class TableLookup<L> {
  constructor(private readonly base: Omit<AsOfNode, 'value' | 'type'>) {}
  /** A field of the version valid at t − lag (t: the event's time); null when the key has none. */
  value(fn: (version: L) => number | bigint | null | undefined): FeatureSpec<number | null>;
  value(fn: (version: L) => string | null | undefined, opts: { type: 'string' }): FeatureSpec<string | null>;
  value(fn: UserFn, opts: { type?: 'string' | 'double' } = {}): FeatureSpec<unknown> {
    if (typeof fn !== 'function') throw new Error(`asOf lookup of table ${this.base.table}: value takes a function of the version, e.g. (x) => x.limit_usd`);
    return { node: { ...this.base, value: fn, type: opts.type ?? 'double' } };
  }
}

/** Default bound on how far an event may run ahead of stream time. */
export const DEFAULT_MAX_FUTURE_SKEW = '30d';

/** A feature's declaration; R is the type of its value in the vector. */
export interface FeatureSpec<R> {
  readonly node: FeatureNode;
  /** Phantom: carries the value type to VectorOf. Never set at run time. */
  readonly __value?: R;
}

export interface WindowAggSpec<R> {
  readonly agg: AggNode;
  readonly __value?: R;
}

export type ValueOf<S> = S extends { readonly __value?: infer R } ? R : never;

export interface LabelSpec<R> {
  readonly node: LabelNode;
  readonly __value?: R;
}

export type FeatureSpecs = Record<string, FeatureSpec<unknown>>;
export type VectorOf<S extends FeatureSpecs> = { [K in keyof S]: ValueOf<S[K]> };

type Num<V> = (value: V) => number | bigint | null | undefined;
type Scalar<V> = (value: V) => string | number | null | undefined;

function checkQuantile(q: number): number {
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new Error(`quantile: q must be a number from 0 to 1 (got ${String(q)}); the median is 0.5`);
  return q;
}

function checkK(k: number, what: string): number {
  if (!Number.isInteger(k) || k < 1 || k > 10_000) throw new Error(`${what}: k must be an integer from 1 to 10,000 (got ${String(k)})`);
  return k;
}

function checkBound(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error(`${what}: exactUpTo must be an integer from 1 to 1,000,000 (got ${String(n)})`);
  return n;
}

function sketchBounds(opts: { exactUpTo?: number; relativeError?: number }, what: string): { exactUpTo: number; relativeError: number } {
  const relativeError = opts.relativeError ?? 0.01;
  if (typeof relativeError !== 'number' || !(relativeError >= 1e-4 && relativeError <= 0.5)) {
    throw new Error(`${what}: relativeError must be from 0.0001 to 0.5 (got ${String(relativeError)}); 0.01 means within 1 %`);
  }
  return { exactUpTo: checkBound(opts.exactUpTo ?? 1000, what), relativeError };
}

/** Which categories a map result lists: declared ones, or a bound on the most frequent. */
export type CategoryBound = { readonly categories: readonly string[] } | { readonly maxCategories: number };

/** The category function and category bound of a bucketed aggregation (countBy, sumBy, meanBy). */
export type BucketOptions<V> = { readonly by: (v: V) => string | null | undefined } & CategoryBound;

function categoryParams(opts: { categories?: readonly string[]; maxCategories?: number }, what: string): AggNode['params'] {
  if (opts.categories !== undefined) {
    const c = opts.categories;
    if (!Array.isArray(c) || c.length === 0 || new Set(c).size !== c.length || c.includes('other') || !c.every((x) => typeof x === 'string')) {
      throw new Error(`${what}: categories must be distinct strings, at least one, and not "other" (the bucket of everything else)`);
    }
    return { categories: JSON.stringify(c) };
  }
  return { maxCategories: checkK(opts.maxCategories!, `${what} maxCategories`) };
}

function bucketParams<V>(opts: BucketOptions<V> | undefined, what: string): AggNode['params'] {
  if (opts === undefined || typeof opts.by !== 'function') throw new Error(`${what}: give the category function as { by: (x) => x.<field>, categories: [...] } or { by, maxCategories: n }`);
  const o = opts as { categories?: readonly string[]; maxCategories?: number };
  if ((o.categories === undefined) === (o.maxCategories === undefined)) throw new Error(`${what}: declare exactly one of categories (strings) or maxCategories (a bound)`);
  return categoryParams(o, what);
}

function checkValue<F>(value: F, what: string): F {
  if (typeof value !== 'function') throw new Error(`${what}: the first argument is the value function, e.g. (x) => x.amount`);
  return value;
}

/** The aggregations, shared by lookback windows and tumbling/hopping/session windows. */
export class AggBuilder<V, Out> {
  constructor(private readonly wrap: (agg: AggNode) => unknown) {}
  private make<R>(kind: AggNode['kind'], value?: UserFn, params: AggNode['params'] = {}, by?: UserFn): Out & { __value?: R } {
    return this.wrap(by === undefined ? { kind, value, params } : { kind, value, params, by }) as Out & { __value?: R };
  }
  /** Number of events (or of non-null values of `value`). */
  count(value?: (v: V) => unknown): Out & { __value?: number } {
    return this.make<number>('count', value);
  }
  sum(value: Num<V>): Out & { __value?: number } {
    return this.make<number>('sum', value);
  }
  mean(value: Num<V>): Out & { __value?: number | null } {
    return this.make<number | null>('mean', value);
  }
  min(value: Num<V>): Out & { __value?: number | null } {
    return this.make<number | null>('min', value);
  }
  max(value: Num<V>): Out & { __value?: number | null } {
    return this.make<number | null>('max', value);
  }
  /** Sample standard deviation (n − 1) unless `population`; null below 2 values (1 for population). */
  stddev(value: Num<V>, opts: { population?: boolean } = {}): Out & { __value?: number | null } {
    return this.make<number | null>('stddev', value, { sample: !opts.population });
  }
  variance(value: Num<V>, opts: { population?: boolean } = {}): Out & { __value?: number | null } {
    return this.make<number | null>('variance', value, { sample: !opts.population });
  }
  /**
   * Skewness of the values: sample-adjusted (G1, as pandas' skew()) unless `population` (g1);
   * null below 3 values (1 for population) or when they do not spread.
   */
  skewness(value: Num<V>, opts: { population?: boolean } = {}): Out & { __value?: number | null } {
    return this.make<number | null>('skewness', value, { sample: !opts.population });
  }
  /** Excess kurtosis: sample-adjusted (G2, as pandas' kurt()) unless `population` (g2); null below 4 values. */
  kurtosis(value: Num<V>, opts: { population?: boolean } = {}): Out & { __value?: number | null } {
    return this.make<number | null>('kurtosis', value, { sample: !opts.population });
  }
  /**
   * The q-quantile (numpy's default linear interpolation), exact while the window holds at most
   * `exactUpTo` values (default 1000); beyond, from a DDSketch whose values are each within
   * `relativeError` (default 1 %) of the value they stand for. Null for an empty window.
   */
  quantile(value: Num<V>, q: number, opts: { exactUpTo?: number; relativeError?: number } = {}): Out & { __value?: number | null } {
    return this.make<number | null>('quantile', value, { q: checkQuantile(q), ...sketchBounds(opts, 'quantile') });
  }
  /** Several quantiles at once, as a list in the order given (as quantile; null for an empty window). */
  quantiles(value: Num<V>, qs: readonly number[], opts: { exactUpTo?: number; relativeError?: number } = {}): Out & { __value?: number[] | null } {
    if (!Array.isArray(qs) || qs.length === 0) throw new Error('quantiles: give a non-empty list of quantiles, e.g. [0.5, 0.9, 0.99]');
    return this.make<number[] | null>('quantiles', value, { qs: qs.map(checkQuantile).join(','), ...sketchBounds(opts, 'quantiles') });
  }
  /** The k largest values, largest first (repeats included); [] for an empty window. */
  topK(value: Num<V>, k: number): Out & { __value?: number[] } {
    return this.make<number[]>('topK', value, { k: checkK(k, 'topK') });
  }
  /** The k smallest values, smallest first (repeats included); [] for an empty window. */
  bottomK(value: Num<V>, k: number): Out & { __value?: number[] } {
    return this.make<number[]>('bottomK', value, { k: checkK(k, 'bottomK') });
  }
  /** The first k non-null values by event time (then processing order), oldest first. */
  firstK(value: Num<V>, k: number): Out & { __value?: number[] };
  firstK(value: (v: V) => string | null | undefined, k: number, opts: { type: 'string' }): Out & { __value?: string[] };
  firstK(value: UserFn, k: number, opts: { type?: 'string' | 'double' } = {}): Out & { __value?: unknown } {
    return this.make<unknown>('firstK', value, { k: checkK(k, 'firstK'), type: opts.type ?? 'double' });
  }
  /** The last k non-null values by event time (then processing order), newest first. */
  lastK(value: Num<V>, k: number): Out & { __value?: number[] };
  lastK(value: (v: V) => string | null | undefined, k: number, opts: { type: 'string' }): Out & { __value?: string[] };
  lastK(value: UserFn, k: number, opts: { type?: 'string' | 'double' } = {}): Out & { __value?: unknown } {
    return this.make<unknown>('lastK', value, { k: checkK(k, 'lastK'), type: opts.type ?? 'double' });
  }
  /**
   * The k most frequent non-null strings, most frequent first; equal counts in ascending string
   * (UTF-16 code unit) order. Exact counts: state grows with the distinct values (`plan` warns).
   */
  mostFrequent(value: (v: V) => string | null | undefined, k: number): Out & { __value?: string[] } {
    return this.make<string[]>('mostFrequent', value, { k: checkK(k, 'mostFrequent') });
  }
  /**
   * Number of distinct non-null values. Exact and unbounded by default (state grows with the
   * distinct values; `plan` warns); with `exactUpTo`, exact up to that many and a HyperLogLog
   * estimate above (2^precision registers, default 12: relative standard error 1.04 / 64 ≈ 1.6 %).
   */
  countDistinct(value: Scalar<V>, opts: { exactUpTo?: number; precision?: number } = {}): Out & { __value?: number } {
    if (opts.exactUpTo === undefined) {
      if (opts.precision !== undefined) throw new Error('countDistinct: precision needs exactUpTo (the bound past which the HyperLogLog answers)');
      return this.make<number>('countDistinct', value);
    }
    const precision = opts.precision ?? 12;
    if (!Number.isInteger(precision) || precision < 4 || precision > 16) throw new Error(`countDistinct: precision must be an integer from 4 to 16 (got ${String(precision)})`);
    return this.make<number>('countDistinct', value, { exactUpTo: checkBound(opts.exactUpTo, 'countDistinct'), precision });
  }
  /**
   * Counts per bucket, as a map: over declared numeric `bins` (edges e0 < e1 < …; keys
   * "[e0,e1)", …), declared string `categories`, or the `maxCategories` most frequent strings
   * (ties in ascending order). Every declared bucket is listed (zeros included); values outside
   * them, or past maxCategories, count in "other", always listed last.
   */
  histogram(value: Num<V>, opts: { bins: readonly number[] }): Out & { __value?: Record<string, number> };
  histogram(value: (v: V) => string | null | undefined, opts: { categories: readonly string[] } | { maxCategories: number }): Out & { __value?: Record<string, number> };
  histogram(value: UserFn, opts: { bins?: readonly number[]; categories?: readonly string[]; maxCategories?: number }): Out & { __value?: unknown } {
    const given = [opts.bins, opts.categories, opts.maxCategories].filter((x) => x !== undefined).length;
    if (given !== 1) throw new Error('histogram: declare exactly one of bins (numeric edges), categories (strings) or maxCategories (a bound)');
    if (opts.bins !== undefined) {
      const e = opts.bins;
      if (e.length < 2 || !e.every((x, i) => Number.isFinite(x) && (i === 0 || x > e[i - 1]))) throw new Error(`histogram: bins must be at least 2 finite, increasing edges (got [${e.join(', ')}])`);
      return this.make<unknown>('histogram', value, { bins: e.join(',') });
    }
    return this.make<unknown>('histogram', value, categoryParams(opts, 'histogram'));
  }
  /**
   * Events per category, as a map: `by` gives an event's category (null: the event is skipped);
   * with `value`, only events whose value is not null count. The categories listed are the
   * declared `categories`, or the `maxCategories` with the most events in the window (equal
   * counts in ascending string order); every declared one is listed (zeros included) and
   * "other", always last, counts the rest.
   */
  countBy(opts: BucketOptions<V>): Out & { __value?: Record<string, number> };
  countBy(value: (v: V) => unknown, opts: BucketOptions<V>): Out & { __value?: Record<string, number> };
  countBy(a: UserFn | BucketOptions<V>, b?: BucketOptions<V>): Out & { __value?: unknown } {
    const [value, opts] = typeof a === 'function' ? [a, b] : [undefined, a];
    return this.make<unknown>('countBy', value, bucketParams(opts, 'countBy'), opts!.by);
  }
  /**
   * The sum of `value` per category (0 for an empty bucket), as a map: categories and "other"
   * as in countBy, ranked by their non-null values. A Neumaier-compensated sum per bucket.
   */
  sumBy(value: Num<V>, opts: BucketOptions<V>): Out & { __value?: Record<string, number> } {
    return this.make<Record<string, number>>('sumBy', checkValue(value, 'sumBy'), bucketParams(opts, 'sumBy'), opts.by);
  }
  /** The mean of `value` per category, null for an empty bucket; categories and "other" as in sumBy. */
  meanBy(value: Num<V>, opts: BucketOptions<V>): Out & { __value?: Record<string, number | null> } {
    return this.make<Record<string, number | null>>('meanBy', checkValue(value, 'meanBy'), bucketParams(opts, 'meanBy'), opts.by);
  }
  /** The non-null value of the earliest event (by event time, then processing order). */
  first(value: Num<V>): Out & { __value?: number | null };
  first(value: (v: V) => string | null | undefined, opts: { type: 'string' }): Out & { __value?: string | null };
  first(value: UserFn, opts: { type?: 'string' | 'double' } = {}): Out & { __value?: unknown } {
    return this.make<unknown>('first', value, { type: opts.type ?? 'double' });
  }
  /** The non-null value of the latest event (by event time). */
  last(value: Num<V>): Out & { __value?: number | null };
  last(value: (v: V) => string | null | undefined, opts: { type: 'string' }): Out & { __value?: string | null };
  last(value: UserFn, opts: { type?: 'string' | 'double' } = {}): Out & { __value?: unknown } {
    const type: ColumnType = opts.type ?? 'double';
    return this.make<unknown>('last', value, { type });
  }
}

export interface LookbackOptions {
  /** Count the current event in its own vector. Default false (the model scores before the event is known). */
  includeCurrent?: boolean;
  /**
   * Tile size for bounded state: the window becomes a sawtooth starting at floor_tile(t − W)
   * (so it spans between W and W + tile), kept as one aggregate per tile; the recent edge,
   * the tile holding t, stays exact. Must divide the window length.
   */
  tile?: Duration;
  /**
   * Required for a group declared with regroupBy, refused otherwise: the lag L. The feature of
   * an event at time t covers the group key's events with event time in (t − L − W, t − L], so
   * its value never depends on which partition saw which event first. A smaller lag is
   * fresher; live, it makes the event wait until every partition has passed t − L.
   */
  asOf?: Duration;
}

export interface WindowOptions {
  /** 'final': one result when the window closes (end + grace ≤ stream time); 'update': on every event. */
  emit?: 'final' | 'update';
  /** Extra lateness accepted for this window, on top of nothing; defaults to the source's grace. */
  grace?: Duration;
  /** Output topic; defaults to the output name. */
  topic?: string;
}

export class WindowedGroup<V> {
  constructor(
    private readonly t: TopologyBuilder,
    private readonly group: string,
    private readonly window: WindowShape,
    private readonly opts: WindowOptions,
  ) {}
  /** Declare the aggregations of this window; emits records { key, windowStart, windowEnd, ...aggs }. */
  aggregate<S extends Record<string, WindowAggSpec<unknown>>>(
    name: string,
    build: (w: AggBuilder<V, WindowAggSpec<unknown>>) => S,
  ): WindowOutput<{ [K in keyof S]: ValueOf<S[K]> }> {
    const specs = build(new AggBuilder<V, WindowAggSpec<unknown>>((agg) => ({ agg })));
    const grace = this.opts.grace === undefined ? this.t.graceOfGroup(this.group) : parseDuration(this.opts.grace, 'grace');
    this.t.addWindowOutput({
      name,
      group: this.group,
      topic: this.opts.topic ?? name,
      window: this.window,
      emit: this.opts.emit ?? 'final',
      grace,
      aggs: Object.entries(specs).map(([k, s]) => [k, s.agg] as const),
    });
    return { name };
  }
}

export interface WindowOutput<R> {
  readonly name: string;
  readonly __row?: R;
}

export class Group<V> {
  constructor(
    private readonly t: TopologyBuilder,
    readonly name: string,
  ) {}

  /** Aggregations over the events of this key in (t − size, t] before the current event. */
  lookback(size: Duration, opts: LookbackOptions = {}): AggBuilder<V, FeatureSpec<unknown>> {
    const ms = parseDuration(size, `lookback window of group ${this.name}`);
    if (ms <= 0) throw new Error(`lookback window of group ${this.name} must be longer than 0`);
    const tile = opts.tile === undefined ? 0 : parseDuration(opts.tile, `tile of lookback ${size}`);
    if (opts.tile !== undefined && (tile <= 0 || ms % tile !== 0)) {
      throw new Error(`lookback ${String(size)} of group ${this.name}: tile ${String(opts.tile)} must be above 0 and divide the window`);
    }
    const base = { kind: 'lookback' as const, group: this.name, size: ms, includeCurrent: opts.includeCurrent ?? false, tile };
    const asOf = opts.asOf === undefined ? undefined : parseDuration(opts.asOf, `asOf of lookback ${String(size)} of group ${this.name}`);
    return new AggBuilder<V, FeatureSpec<unknown>>((agg) => ({ node: asOf === undefined ? { ...base, agg } : { ...base, agg, asOf } }));
  }

  /** Time since the previous event of this key (event time ≤ the current one), null if none. */
  timeSinceLast(unit: TimeUnit = 'minutes'): FeatureSpec<number | null> {
    return { node: { kind: 'sinceLast', group: this.name, unit } };
  }

  /** Epoch-aligned windows [start, start + size). */
  tumbling(size: Duration, opts: WindowOptions = {}): WindowedGroup<V> {
    return new WindowedGroup<V>(this.t, this.name, { kind: 'tumbling', size: parseDuration(size, 'tumbling window') }, opts);
  }

  /** Epoch-aligned windows of `size` starting every `advance`. */
  hopping(size: Duration, advance: Duration, opts: WindowOptions = {}): WindowedGroup<V> {
    const s = parseDuration(size, 'hopping window');
    const a = parseDuration(advance, 'hopping advance');
    if (a <= 0 || a > s || s % a !== 0) throw new Error(`hopping window: advance must divide the size (got ${size} / ${advance})`);
    return new WindowedGroup<V>(this.t, this.name, { kind: 'hopping', size: s, advance: a }, opts);
  }

  /** Calendar windows in a time zone (a day in America/New_York lasts 23 or 25 hours at DST changes). */
  calendar(unit: 'hour' | 'day' | 'week' | 'month', timeZone: string, opts: WindowOptions = {}): WindowedGroup<V> {
    return new WindowedGroup<V>(this.t, this.name, { kind: 'calendar', unit, timeZone }, opts);
  }

  /** Sessions: events closer than `gap` merge; a session closes at last event + gap + grace. */
  session(gap: Duration, opts: WindowOptions = {}): WindowedGroup<V> {
    return new WindowedGroup<V>(this.t, this.name, { kind: 'session', gap: parseDuration(gap, 'session gap') }, opts);
  }
}

export const label = {
  boolean<V>(fn: (v: V) => boolean | null | undefined): LabelSpec<boolean | null> {
    return { node: { type: 'boolean', fn } };
  },
  number<V>(fn: (v: V) => number | null | undefined): LabelSpec<number | null> {
    return { node: { type: 'double', fn } };
  },
  string<V>(fn: (v: V) => string | null | undefined): LabelSpec<string | null> {
    return { node: { type: 'string', fn } };
  },
};

export interface LabelJoin<V, L> {
  /** The label source (declared with t.source); it is read only to build training data. */
  from: Stream<L>;
  /** Join id on the feature event, e.g. txn => txn.txn_id. */
  on: (value: V) => string;
  /** Join id on the label event. */
  matchOn: (labelEvent: L) => string;
  /** Maturity window: a label counts if its event time is ≤ event time + within. */
  within: Duration;
  /** Column name: true / false once mature, null while not mature and unmatched. */
  label: string;
}

export interface FeatureOptions<V, S extends FeatureSpecs, D, L, J> {
  /** Output topic; defaults to the output name. */
  topic?: string;
  /** Features computed from the others and the current event (e.g. a z-score). */
  derive?: D & Record<string, (vector: VectorOf<S>, event: V) => number | null>;
  /** Label columns computed from the event itself (training data only). */
  labels?: L & Record<string, LabelSpec<unknown>>;
  labelJoin?: LabelJoin<V, J>;
}

export interface FeatureOutput<R> {
  readonly name: string;
  readonly __row?: R;
}

export class Stream<V> {
  constructor(
    protected readonly t: TopologyBuilder,
    readonly id: string,
    readonly source: string,
  ) {}

  map<U>(fn: (value: V) => U): Stream<U> {
    return this.t.addStream<U>(this, 'map', fn);
  }

  filter(fn: (value: V) => boolean): Stream<V> {
    return this.t.addStream<V>(this, 'filter', fn);
  }

  /** Group by an entity key. It must be the partition key or a refinement of it (e.g. route within origin). */
  groupBy(name: string, key: (value: V) => string): Group<V> {
    return this.t.addGroup<V>(name, this.id, key);
  }

  /**
   * Group by another entity's key (e.g. the destination of a flight partitioned by origin).
   * Its events are routed to the task that owns the new key, and its lookback features need
   * `asOf`: the declared staleness that makes them independent of the partitioning.
   */
  regroupBy(name: string, key: (value: V) => string): Group<V> {
    return this.t.addGroup<V>(name, this.id, key, true);
  }

  /**
   * Look up a table (t.table) as of this event's time t, or t − lag: the version of `key` with
   * the greatest validity time at or before it. The key must be this event's partition key
   * (the table's versions live in the event's task), unless the table is declared with
   * `regroup: true` (keyed by another entity: its versions live in regrouped tasks).
   */
  asOf<L>(table: Table<L>, key: (value: V) => string, opts: AsOfOptions = {}): TableLookup<L> {
    if (!(table instanceof Table)) throw new Error(`asOf on stream ${this.id}: the first argument is a table declared with t.table(...)`);
    if (typeof key !== 'function') throw new Error(`asOf lookup of table ${table.name}: give the key function, e.g. (x) => x.card_id (the event's partition key)`);
    const lag = parseDuration(opts.lag ?? 0, `lag of the asOf lookup of table ${table.name}`);
    if (lag < 0) throw new Error(`asOf lookup of table ${table.name}: lag must not be negative`);
    return new TableLookup<L>({ kind: 'asOf', table: table.name, stream: this.id, key, lag });
  }

  /** The per-event feature vector: one output row per event of this stream. */
  features<S extends FeatureSpecs, D = Record<never, never>, L = Record<never, never>, J = never>(
    name: string,
    specs: S,
    opts: FeatureOptions<V, S, D, L, J> = {},
  ): FeatureOutput<VectorOf<S> & { [K in keyof D]: number | null } & { [K in keyof L]: ValueOf<L[K]> }> {
    const join = opts.labelJoin;
    this.t.addOutput({
      name,
      stream: this.id,
      topic: opts.topic ?? name,
      features: Object.entries(specs).map(([k, s]) => [k, s.node] as const),
      derived: Object.entries(opts.derive ?? {}).map(([k, fn]) => [k, fn as UserFn] as const),
      labels: Object.entries((opts.labels ?? {}) as Record<string, LabelSpec<unknown>>).map(([k, l]) => [k, l.node] as const),
      labelJoin: join && {
        source: join.from.source,
        on: join.on,
        matchOn: join.matchOn,
        within: parseDuration(join.within, 'labelJoin.within'),
        label: join.label,
      },
    });
    return { name };
  }
}

export class TopologyBuilder {
  private readonly sources: SourceNode[] = [];
  private readonly streams: StreamNode[] = [];
  private readonly groups: GroupNode[] = [];
  private readonly outputs: FeatureOutputNode[] = [];
  private readonly windowOutputs: WindowOutputNode[] = [];

  source<V>(name: string, opts: SourceOptions<V>): Stream<V> {
    this.addSource(name, opts);
    return new Stream<V>(this, name, name);
  }

  /** A table of versions (e.g. a card's credit limit over time), read by stream.asOf lookups. */
  table<V>(name: string, opts: TableOptions<V>): Table<V> {
    if (typeof opts.validFrom !== 'function') throw new Error(`table "${name}" has no validFrom function: add validFrom: (x) => x.<validity time field>`);
    if (opts.retention === undefined) throw new Error(`table "${name}" has no retention: add retention: '<how long versions stay behind stream time>', e.g. '90d'`);
    const retention = parseDuration(opts.retention, `retention of table ${name}`);
    if (opts.regroup !== undefined && typeof opts.regroup !== 'boolean') throw new Error(`table "${name}": regroup is true or false`);
    const { validFrom, retention: _, regroup, ...rest } = opts;
    // No future-skew bound unless declared: a version does not move stream time, so a far-ahead
    // one cannot make events late, and a sparse table's versions may lie months apart.
    this.addSource(name, { ...rest, maxFutureSkew: rest.maxFutureSkew ?? null, eventTime: validFrom }, regroup === true ? { retention, regroup } : { retention });
    return new Table<V>(name);
  }

  private addSource<V>(name: string, opts: SourceOptions<V>, table?: TableNode): void {
    if (this.sources.some((s) => s.name === name)) throw new Error(`source "${name}" is declared twice`);
    if (typeof opts.schema !== 'string' || opts.schema === '') {
      throw new Error(`source "${name}" has no schema: add schema: '<path of its .avsc, relative to the topology file>' to its options`);
    }
    if (typeof opts.key !== 'function') throw new Error(`source "${name}" has no key function: add key: (x) => x.<partition key field>`);
    if (typeof opts.eventTime !== 'function') throw new Error(`source "${name}" has no eventTime function: add eventTime: (x) => x.<event time field>`);
    this.sources.push({
      name,
      topic: opts.topic ?? name,
      schema: opts.schema,
      key: opts.key,
      eventTime: opts.eventTime,
      grace: parseDuration(opts.grace ?? 0, `grace of source ${name}`),
      late: opts.late ?? 'drop',
      maxFutureSkew: opts.maxFutureSkew === null ? null : parseDuration(opts.maxFutureSkew ?? DEFAULT_MAX_FUTURE_SKEW, `maxFutureSkew of source ${name}`),
      ...(table === undefined ? {} : { table }),
    });
    this.streams.push({ id: name, source: name, kind: 'source' });
  }

  addStream<U>(parent: Stream<unknown>, kind: 'map' | 'filter', fn: UserFn): Stream<U> {
    const id = `${parent.id}/${kind}${this.streams.filter((s) => s.parent === parent.id).length}`;
    this.streams.push({ id, source: parent.source, kind, parent: parent.id, fn });
    return new Stream<U>(this, id, parent.source);
  }

  addGroup<V>(name: string, stream: string, key: UserFn, regroup = false): Group<V> {
    if (this.groups.some((g) => g.name === name)) throw new Error(`group "${name}" is declared twice`);
    this.groups.push(regroup ? { name, stream, key, regroup: true } : { name, stream, key });
    return new Group<V>(this, name);
  }

  addOutput(o: FeatureOutputNode): void {
    this.checkName(o.name);
    this.outputs.push(o);
  }

  addWindowOutput(o: WindowOutputNode): void {
    this.checkName(o.name);
    this.windowOutputs.push(o);
  }

  graceOfGroup(group: string): number {
    const g = this.groups.find((x) => x.name === group);
    const stream = this.streams.find((s) => s.id === g?.stream);
    return this.sources.find((s) => s.name === stream?.source)?.grace ?? 0;
  }

  private checkName(name: string): void {
    if (this.outputs.some((o) => o.name === name) || this.windowOutputs.some((o) => o.name === name)) {
      throw new Error(`output "${name}" is declared twice`);
    }
  }

  build(name: string, description: string): TopologyNode {
    return {
      name,
      description,
      sources: this.sources,
      streams: this.streams,
      groups: this.groups,
      outputs: this.outputs,
      windowOutputs: this.windowOutputs,
    };
  }
}

/** A topology as exported by a topology file; O is what its build function returned (its outputs). */
export interface Topology<O = unknown> {
  readonly node: TopologyNode;
  readonly __outputs?: O;
}

/** The row type of output K of a topology: `type FlightRow = RowOf<typeof flightDelays, 'features'>`. */
export type RowOf<T extends Topology<unknown>, K extends keyof NonNullable<T['__outputs']>> =
  NonNullable<T['__outputs']>[K] extends { __row?: infer R } ? R : never;

/** Declare a topology: `export default topology('card-fraud', (t) => { ...; return { features } })`. */
export function topology<O>(name: string, build: (t: TopologyBuilder) => O, opts: { description?: string } = {}): Topology<O> {
  const t = new TopologyBuilder();
  build(t);
  return { node: t.build(name, opts.description ?? '') };
}
