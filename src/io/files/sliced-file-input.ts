import type { InputBatch, InputRecord, SourceValue } from '../../engine/input.js';
import type { FileRecord } from './file-record.js';
import { filePosition, newRange, rangesInOrder, readOnce, recordRead, type FileInput, type MutableRange } from './partitioned-file-input.js';
import { sliceValues, type SliceGroup } from './parquet-split-slices.js';
import { checkBatchSize, DEFAULT_BATCH_SIZE } from './record-batches.js';
import { compileRowBuilder, type RowBuilder } from './row-builder.js';

export interface SlicedFileInputOptions {
  readonly source: string;
  /** The split file (dead letters point into it). */
  readonly path: string;
  readonly partitions: number;
  /** The partitions whose slices arrive (a replay thread's share). */
  readonly partitionFilter: (partition: number) => boolean;
  /** The slices of those partitions, row group by row group (splitParquetSlices, routed by another thread). */
  readonly groups: AsyncIterable<SliceGroup>;
  readonly batchSize?: number;
}

/**
 * A split Parquet file read by another thread and delivered as slices: the same batches'
 * records, offsets and file positions as openFileInput's split of that file (splitFile), built
 * here for this thread's partitions only.
 */
export function slicedFileInput(options: SlicedFileInputOptions): FileInput {
  const batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
  const ranges = new Map<number, MutableRange>();
  for (let p = 0; p < options.partitions; p++) if (options.partitionFilter(p)) ranges.set(p, newRange(options.source, p, options.path));
  const file = { partition: 0, path: options.path, format: 'parquet' as const };

  async function* batches(): AsyncGenerator<InputBatch> {
    let buildRow: RowBuilder | undefined;
    for await (const group of options.groups) {
      buildRow ??= compileRowBuilder(group.names);
      for (const slice of group.slices) {
        if (!ranges.has(slice.partition)) throw new Error(`skewless: a slice of partition ${slice.partition} of ${options.path} reached a thread that does not replay it`);
        const values = slice.columns.map(sliceValues);
        const errors = new Map<number, readonly [string, string | Uint8Array | undefined]>();
        for (const [k, error, raw] of slice.errors) errors.set(k, [error, raw]);
        const n = slice.fileRows.length;
        for (let from = 0; from < n; from += batchSize) {
          const to = Math.min(n, from + batchSize);
          const records = new Array<InputRecord>(to - from);
          for (let k = from; k < to; k++) {
            const offset = slice.firstOffset + k;
            const index = slice.fileRows[k];
            const failed = errors.size > 0 ? errors.get(k) : undefined;
            let record: FileRecord;
            if (failed === undefined) record = { offset, index, value: buildRow(values, k) as SourceValue };
            else record = failed[1] === undefined ? { offset, index, error: failed[0] } : { offset, index, error: failed[0], raw: failed[1] };
            records[k - from] = record;
          }
          recordRead(ranges, slice.partition, records);
          yield { source: options.source, partition: slice.partition, records };
        }
      }
    }
  }

  return {
    batches: readOnce(options.source, batches),
    ranges: () => rangesInOrder(ranges),
    position: (_partition, record) => filePosition(file, record as FileRecord),
  };
}
