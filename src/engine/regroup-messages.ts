import type { AggValue } from '../ops/aggregation.js';

/**
 * What flows between origin tasks, RegroupedTasks and row assemblers (DESIGN.md, "Regrouping
 * and features across entities"). Plain data, so replay can spill them to files and live can
 * carry them through repartition topics; groups and outputs are indexes into the Program.
 */

/** An accepted event of a regrouped group, routed to the task owning `key`. */
export interface RegroupUpdate {
  readonly kind: 'update';
  readonly group: number;
  readonly key: string;
  readonly t: number;
  /** The group's value columns for this event. */
  readonly vals: readonly AggValue[];
}

/** Where a query's answer goes: one output row of one origin partition. */
export interface RowRef {
  readonly partition: number;
  readonly source: string;
  readonly offset: number;
  /** Index of the output in Program.outputs. */
  readonly output: number;
}

/** Read a regrouped key's aggregates over (qt − W, qt] for one output row. */
export interface RegroupQuery extends RowRef {
  readonly kind: 'query';
  readonly group: number;
  readonly key: string;
  readonly qt: number;
  /** Index in the output's regroupQueries. */
  readonly query: number;
}

/** An upstream task will send nothing more with a time below `watermark` (its stream time − grace). */
export interface RegroupWatermark {
  readonly kind: 'watermark';
  readonly upstream: number;
  readonly watermark: number;
}

/**
 * Live only: the upstream task is caught up with its inputs and has been quiet for the idle
 * time. Until its next message it does not hold back the others (Flink's idleness): what is
 * released meanwhile may be applied before a record it sends later, the one place a regrouped
 * value may differ from replay, counted as an idle release.
 */
export interface RegroupIdle {
  readonly kind: 'idle';
  readonly upstream: number;
  /** How far the upstream had read each of its inputs (program source order): once an input's end passes this, it is not idle. */
  readonly positions: readonly number[];
}

export type RegroupMessage = RegroupUpdate | RegroupQuery | RegroupWatermark | RegroupIdle;

/** The values of one query, in the order of its RegroupQueryProgram's columns. */
export interface RegroupAnswer extends RowRef {
  readonly query: number;
  /**
   * The answering task's idle releases so far (live only; replay never releases past an
   * upstream): above 0, the values may miss an event an idle upstream sent later, which replay
   * counts. Parity explains a difference in such a row by it.
   */
  readonly idleReleases: number;
  readonly values: readonly AggValue[];
}

/**
 * An output row whose own-key features, labels and position are known and whose regrouped
 * columns (and derived features, which may read them) wait for answers. `values` follow the
 * output's columns; `event` is kept for derived features and label joins.
 */
export interface PartialRow extends RowRef {
  readonly key: string;
  readonly eventTime: number;
  readonly values: readonly AggValue[];
  readonly event: Readonly<Record<string, unknown>>;
}

/** Where an origin task sends what its regroupings need (replay: spill files; live: repartition topics). */
export interface RegroupSinks {
  update(u: RegroupUpdate): void;
  query(q: RegroupQuery): void;
  /** `row.values` is reused by the task once this returns: copy it to keep it. */
  partialRow(row: PartialRow): void;
}
