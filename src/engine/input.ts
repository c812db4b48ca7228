/**
 * What every driver (file replay, Kafka replay, live) hands to the engine. The engine never
 * learns where a record came from beyond (source, partition, offset): that is what keeps
 * live and replay on one code path.
 */

/** A decoded source value: a plain object as produced by avsc, JSON.parse or a Parquet reader. */
export type SourceValue = Readonly<Record<string, unknown>>;

/** One input position. Either a decoded value or the reason it could not be decoded. */
export interface InputRecord {
  /** Offset within its partition: the Kafka offset, or the 0-based record index within the partition for files. */
  readonly offset: number;
  readonly value?: SourceValue;
  /** Set when the record is malformed (undecodable, wrong shape). The engine dead-letters it. */
  readonly error?: string;
  /** The undecoded bytes or text, kept for the dead-letter sink when available. */
  readonly raw?: Uint8Array | string;
}

/** A run of consecutive records of one partition of one source, in offset order. */
export interface InputBatch {
  readonly source: string;
  readonly partition: number;
  readonly records: readonly InputRecord[];
  /**
   * Live: the offset the consumer fetched this run from. Offsets between it and the first
   * record hold no data (transaction markers, aborted records), so the task can check that the
   * run starts right after its state (the gap rule). Absent for replay, which reads ranges it chose.
   */
  readonly fetchedFrom?: number;
}

/** Where a partition's input started and ended, for training-data metadata. */
export interface InputRange {
  readonly source: string;
  readonly partition: number;
  /** Human-readable origin: a file path or a topic name. */
  readonly origin: string;
  readonly firstOffset: number;
  /** Offset after the last record read (exclusive). */
  readonly endOffset: number;
}
