import { readAvroRecords } from './avro-ocf-reader.js';
import type { FileFormat } from './input-format.js';
import { readNdjsonRecords } from './ndjson-reader.js';
import { readParquetRecords } from './parquet-reader.js';
import type { RecordBatches } from './record-batches.js';

export interface FileRecordsOptions {
  readonly batchSize?: number;
  /**
   * The source's Avro reader schema. Every format reads through it, as the Kafka path does:
   * Avro files are resolved from their writer schema, NDJSON objects and Parquet rows are
   * checked against it (see record-conformer.ts); a record that does not fit is an error record.
   */
  readonly readerSchema?: object;
}

/** The records of one file in the given format, in file order. */
export function readFileRecords(path: string, format: FileFormat, options: FileRecordsOptions = {}): RecordBatches {
  switch (format) {
    case 'ndjson':
      return readNdjsonRecords(path, options);
    case 'avro':
      return readAvroRecords(path, options);
    case 'parquet':
      return readParquetRecords(path, options);
  }
}
