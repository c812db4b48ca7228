import type { InputBatch, InputRange, InputRecord, SourceValue } from '../../engine/input.js';
import type { FileRecord } from './file-record.js';
import type { FileInput, FilePosition } from './partitioned-file-input.js';
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
  const ranges = new Map<number, InputRange & { endOffset: number }>();
  for (let p = 0; p < options.partitions; p++) {
    if (options.partitionFilter(p)) ranges.set(p, { source: options.source, partition: p, origin: options.path, firstOffset: 0, endOffset: 0 });
  }
  let started = false;

  async function* batches(): AsyncGenerator<InputBatch> {
    let buildRow: RowBuilder | undefined;
    for await (const group of options.groups) {
      buildRow ??= compileRowBuilder(group.names);
      for (const slice of group.slices) {
        const range = ranges.get(slice.partition);
        if (range === undefined) throw new Error(`skewless: a slice of partition ${slice.partition} of ${options.path} reached a thread that does not replay it`);
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
          range.endOffset = slice.firstOffset + to;
          yield { source: options.source, partition: slice.partition, records };
        }
      }
    }
  }

  return {
    batches: () => {
      if (started) throw new Error(`skewless: the file input of source "${options.source}" can be read only once; open it again`);
      started = true;
      return batches();
    },
    ranges: () => [...ranges.values()].sort((a, b) => a.partition - b.partition).map((range) => ({ ...range })),
    position: (_partition, record): FilePosition => ({ file: options.path, row: (record as FileRecord).index ?? record.offset }),
  };
}
