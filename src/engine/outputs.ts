import type { AggValue, ColumnType } from '../ops/aggregation.js';
import type { RegroupSinks } from './regroup-messages.js';

export interface OutputColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly role: 'feature' | 'derived' | 'label';
}

/** A column's value as every output writes it: the engine holds booleans as 1 / 0. */
export function outputValue(v: AggValue, c: OutputColumn): unknown {
  return columnValue(v, c.type === 'boolean');
}

/** outputValue for a column whose kind (boolean or not) the caller decided once, not per value. */
export function columnValue(v: AggValue, boolean: boolean): unknown {
  return v !== null && boolean ? v === 1 : v;
}

/** One per-event feature vector. `values` follow the output's columns. */
export interface FeatureRow {
  readonly output: string;
  readonly source: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly eventTime: number;
  readonly values: readonly AggValue[];
  /** The source value, for label joins downstream (training data only). */
  readonly event: Readonly<Record<string, unknown>>;
  /** Regrouped rows, live: the most idle releases any answering task had made (RegroupAnswer.idleReleases). */
  readonly idleReleases?: number;
}

export interface WindowRowOut {
  readonly output: string;
  readonly partition: number;
  readonly key: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly values: readonly AggValue[];
  readonly final: boolean;
}

/** A record that could not be used, with why. Never dropped silently. */
export interface DeadLetter {
  readonly source: string;
  readonly partition: number;
  readonly offset: number;
  readonly reason: string;
  readonly raw?: Uint8Array | string;
}

export interface LateRecord {
  readonly source: string;
  readonly partition: number;
  readonly offset: number;
  /** The source key (the entity the record belongs to). */
  readonly key: string;
  readonly eventTime: number;
  readonly streamTime: number;
  readonly reason: string;
  readonly value: Readonly<Record<string, unknown>>;
}

/** Where a task's results go. Calls are synchronous appends; drivers flush at checkpoints. */
export interface TaskSinks {
  /** `row` and `row.values` are reused by the task once this returns: copy what you keep. */
  feature(row: FeatureRow): void;
  window(row: WindowRowOut): void;
  deadLetter(d: DeadLetter): void;
  late(l: LateRecord): void;
  /**
   * A late record its source's policy drops (counted, never an output). Optional: for
   * bookkeeping that must know which records were late, e.g. the parity log.
   */
  lateDropped?(l: LateRecord): void;
  /** Required when the topology has a regrouping: rows with regrouped columns go here instead of feature(). */
  readonly regroup?: RegroupSinks;
}
