/**
 * The topology IR the DSL builds: plain data plus the user's functions. The plan compiler
 * canonicalises it (and hashes it); the engine executes it.
 */
// The IR stores user functions without their parameter types; the DSL's generics keep user code typed.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UserFn = (...args: any[]) => unknown;

/**
 * Column types of feature outputs; they map 1:1 onto Parquet and Avro types (lists: Parquet
 * LIST and Avro array; map<int64>: Parquet MAP and Avro map of string keys to longs;
 * map<double>: Parquet MAP with optional double values and Avro map of ["null", "double"],
 * null being the mean of an empty bucket).
 */
export type ColumnType = 'int64' | 'double' | 'string' | 'boolean' | 'list<double>' | 'list<string>' | 'map<int64>' | 'map<double>';

export type LatePolicy = 'drop' | 'sideOutput';
export type TimeUnit = 'ms' | 'seconds' | 'minutes' | 'hours' | 'days';

export interface SourceNode {
  readonly name: string;
  readonly topic: string;
  /** Path of the .avsc file, resolved against the topology file's folder. */
  readonly schema: string;
  readonly key: UserFn;
  readonly eventTime: UserFn;
  readonly grace: number;
  readonly late: LatePolicy;
  /** A record whose event time runs further ahead of stream time is dead-lettered (ms; null = no bound). */
  readonly maxFutureSkew: number | null;
  /** Declared with t.table: a table of versions (eventTime is the validity time), read by as-of lookups. */
  readonly table?: TableNode;
}

export interface TableNode {
  /** How long versions stay behind stream time (ms); the latest one at or before that horizon always stays. */
  readonly retention: number;
  /**
   * Keyed by another entity than the events that look it up (a merchant's risk tier for
   * card-keyed transactions): its versions live in regrouped tasks, like a regroupBy's events.
   */
  readonly regroup?: boolean;
}

export interface StreamNode {
  readonly id: string;
  readonly source: string;
  readonly kind: 'source' | 'map' | 'filter';
  readonly parent?: string;
  readonly fn?: UserFn;
}

export interface GroupNode {
  readonly name: string;
  readonly stream: string;
  readonly key: UserFn;
  /** Declared with regroupBy: keyed by something other than the partition key, so its state lives in regrouped tasks. */
  readonly regroup?: true;
}

export type AggKind =
  | 'count'
  | 'sum'
  | 'mean'
  | 'min'
  | 'max'
  | 'stddev'
  | 'variance'
  | 'skewness'
  | 'kurtosis'
  | 'quantile'
  | 'quantiles'
  | 'countDistinct'
  | 'first'
  | 'last'
  | 'firstK'
  | 'lastK'
  | 'topK'
  | 'bottomK'
  | 'mostFrequent'
  | 'histogram'
  | 'countBy'
  | 'sumBy'
  | 'meanBy';

export interface AggNode {
  readonly kind: AggKind;
  readonly value?: UserFn;
  /** The category of an event for the bucketed aggregations (countBy, sumBy, meanBy). */
  readonly by?: UserFn;
  readonly params: Readonly<Record<string, string | number | boolean>>;
}

export type FeatureNode =
  | {
      readonly kind: 'lookback';
      readonly group: string;
      readonly size: number;
      readonly includeCurrent: boolean;
      /** Tile size h for a sawtooth window (bounded state); 0 for an exact window. */
      readonly tile: number;
      readonly agg: AggNode;
      /** Lag L in ms of a regrouped group's feature: it covers (t − L − W, t − L]. Absent for the event's own groups. */
      readonly asOf?: number;
    }
  | { readonly kind: 'sinceLast'; readonly group: string; readonly unit: TimeUnit }
  | AsOfNode;

/**
 * An as-of lookup in a table: the version of `key(event)` with the greatest validity time at or
 * before t − lag, read through `value`; null when the key has none.
 */
export interface AsOfNode {
  readonly kind: 'asOf';
  readonly table: string;
  /** The stream whose events look the table up (its outputs only may use it). */
  readonly stream: string;
  readonly key: UserFn;
  readonly lag: number;
  readonly value: UserFn;
  readonly type: 'double' | 'string';
}

/** Features read from groups (everything but table lookups). */
export type GroupFeatureNode = Exclude<FeatureNode, AsOfNode>;

export interface LabelNode {
  readonly type: ColumnType;
  readonly fn: UserFn;
}

export interface LabelJoinNode {
  readonly source: string;
  readonly on: UserFn;
  readonly matchOn: UserFn;
  readonly within: number;
  readonly label: string;
}

export interface FeatureOutputNode {
  readonly name: string;
  readonly stream: string;
  readonly topic: string;
  readonly features: ReadonlyArray<readonly [string, FeatureNode]>;
  readonly derived: ReadonlyArray<readonly [string, UserFn]>;
  readonly labels: ReadonlyArray<readonly [string, LabelNode]>;
  readonly labelJoin?: LabelJoinNode;
}

export type WindowShape =
  | { readonly kind: 'tumbling'; readonly size: number }
  | { readonly kind: 'hopping'; readonly size: number; readonly advance: number }
  | { readonly kind: 'calendar'; readonly unit: 'hour' | 'day' | 'week' | 'month'; readonly timeZone: string }
  | { readonly kind: 'session'; readonly gap: number };

export interface WindowOutputNode {
  readonly name: string;
  readonly group: string;
  readonly topic: string;
  readonly window: WindowShape;
  readonly emit: 'final' | 'update';
  readonly grace: number;
  readonly aggs: ReadonlyArray<readonly [string, AggNode]>;
}

export interface TopologyNode {
  readonly name: string;
  readonly description: string;
  readonly sources: readonly SourceNode[];
  readonly streams: readonly StreamNode[];
  readonly groups: readonly GroupNode[];
  readonly outputs: readonly FeatureOutputNode[];
  readonly windowOutputs: readonly WindowOutputNode[];
}
