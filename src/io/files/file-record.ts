import type { InputRecord } from '../../engine/input.js';

/**
 * A record read from a file, with what its dead letter needs to point back into the file.
 * The engine sees an InputRecord and ignores the extra fields.
 */
export interface FileRecord extends InputRecord {
  /** NDJSON: the 1-based physical line number. */
  readonly line?: number;
  /** The record's 0-based index in its file, when it differs from `offset` (a file split into partitions). */
  readonly index?: number;
}
