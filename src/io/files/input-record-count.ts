import { statSync } from 'node:fs';
import { countAvroRecords } from './avro-ocf-reader.js';
import { fileOpenError } from './file-input-error.js';
import { detectFileFormat, type FileFormat } from './input-format.js';
import { countNdjsonRecords } from './ndjson-reader.js';
import { countParquetRows } from './parquet-reader.js';
import { listPartitionFiles } from './partition-files.js';

function countFile(path: string, format: FileFormat): Promise<number> {
  switch (format) {
    case 'ndjson':
      return countNdjsonRecords(path);
    case 'avro':
      return countAvroRecords(path);
    case 'parquet':
      return countParquetRows(path);
  }
}

/**
 * The records an input holds (a file, or a directory with one file per partition), for the
 * total of a progress bar: Parquet footers, Avro block headers, NDJSON lines; no record is decoded.
 */
export async function countInputRecords(path: string, format?: FileFormat): Promise<number> {
  let directory: boolean;
  try {
    directory = statSync(path).isDirectory();
  } catch (err) {
    throw fileOpenError(path, err);
  }
  const files = directory ? listPartitionFiles(path, format) : [{ path, format: format ?? detectFileFormat(path) }];
  let total = 0;
  for (const f of files) total += await countFile(f.path, f.format);
  return total;
}
