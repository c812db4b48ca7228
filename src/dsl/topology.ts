import { parseDuration, type Duration } from './duration.js';
import type {
  AggNode,
  ColumnType,
  FeatureNode,
  FeatureOutputNode,
  GroupNode,
  LabelNode,
  LatePolicy,
  SourceNode,
  StreamNode,
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

/** The aggregations, shared by lookback windows and tumbling/hopping/session windows. */
export class AggBuilder<V, Out> {
  constructor(private readonly wrap: (agg: AggNode) => unknown) {}
  private make<R>(kind: AggNode['kind'], value?: UserFn, params: AggNode['params'] = {}): Out & { __value?: R } {
    return this.wrap({ kind, value, params }) as Out & { __value?: R };
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
  /** Exact number of distinct non-null values. */
  countDistinct(value: Scalar<V>): Out & { __value?: number } {
    return this.make<number>('countDistinct', value);
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
    return new AggBuilder<V, FeatureSpec<unknown>>((agg) => ({
      node: { kind: 'lookback', group: this.name, size: ms, includeCurrent: opts.includeCurrent ?? false, tile, agg },
    }));
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
    });
    this.streams.push({ id: name, source: name, kind: 'source' });
    return new Stream<V>(this, name, name);
  }

  addStream<U>(parent: Stream<unknown>, kind: 'map' | 'filter', fn: UserFn): Stream<U> {
    const id = `${parent.id}/${kind}${this.streams.filter((s) => s.parent === parent.id).length}`;
    this.streams.push({ id, source: parent.source, kind, parent: parent.id, fn });
    return new Stream<U>(this, id, parent.source);
  }

  addGroup<V>(name: string, stream: string, key: UserFn): Group<V> {
    if (this.groups.some((g) => g.name === name)) throw new Error(`group "${name}" is declared twice`);
    this.groups.push({ name, stream, key });
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
