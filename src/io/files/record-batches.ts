import type { InputRecord } from '../../engine/input.js';

/**
 * What every file reader yields: the file's records in file order, a bounded number at a
 * time. Each record's offset is its 0-based index within the file; the partitioned input
 * renumbers them when it splits a file into partitions.
 */
export type RecordBatches = AsyncGenerator<InputRecord[], void, undefined>;

export const DEFAULT_BATCH_SIZE = 4096;

export function checkBatchSize(batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  return batchSize;
}
