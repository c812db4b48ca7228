import { extname } from 'node:path';
import { FileInputError } from './file-input-error.js';

/** The archive formats replay can read. */
export type FileFormat = 'ndjson' | 'avro' | 'parquet';

export const FILE_FORMATS: readonly FileFormat[] = ['ndjson', 'avro', 'parquet'];

const FORMAT_BY_EXTENSION: Readonly<Record<string, FileFormat>> = {
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.json': 'ndjson',
  '.avro': 'avro',
  '.parquet': 'parquet',
};

/** The format a file's extension names, or undefined when the extension is not one we know. */
export function formatOfExtension(path: string): FileFormat | undefined {
  return FORMAT_BY_EXTENSION[extname(path).toLowerCase()];
}

/** The format of a file, from its extension; throws a one-line error for unknown extensions. */
export function detectFileFormat(path: string): FileFormat {
  const format = formatOfExtension(path);
  if (format) return format;
  const ext = extname(path);
  const known = Object.keys(FORMAT_BY_EXTENSION).join(', ');
  throw new FileInputError(
    path,
    ext ? `unknown file extension "${ext}" (known: ${known})` : `no file extension (known: ${known})`,
    `Pass --format ${FILE_FORMATS.join('|')} or rename the file`,
  );
}

/** Validates a user-supplied format name (e.g. a --format flag). */
export function parseFileFormat(name: string): FileFormat {
  const format = FILE_FORMATS.find((f) => f === name.toLowerCase());
  if (!format) {
    throw new Error(`skewless: unknown input format "${name}". Use one of: ${FILE_FORMATS.join(', ')}.`);
  }
  return format;
}
