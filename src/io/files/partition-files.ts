import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileOpenError, FileInputError } from './file-input-error.js';
import { detectFileFormat, type FileFormat } from './input-format.js';

/** One input file and the partition it holds. */
export interface PartitionFile {
  readonly partition: number;
  readonly path: string;
  readonly format: FileFormat;
}

const NUMBERED = /-(\d+)\.[^.]+$/;

/**
 * Maps a directory of archive files to partitions: `<anything>-<n>.<ext>` (e.g.
 * `partition-3.avro`, `orders-00003.avro`) holds partition n when every file is named so;
 * otherwise files are sorted by name and the index is the partition. Hidden files and
 * `_`-prefixed ones (`_SUCCESS`, `_metadata` from Hadoop-style writers) are not data.
 * Sorting compares code units, not locale collation, so the mapping is the same everywhere.
 */
export function listPartitionFiles(dir: string, format: FileFormat | undefined): PartitionFile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => !name.startsWith('.') && !name.startsWith('_'));
  } catch (err) {
    throw fileOpenError(dir, err);
  }
  names = names.filter((name) => isFile(join(dir, name))).sort(compareCodeUnits);
  if (names.length === 0) {
    throw new FileInputError(dir, 'the directory holds no input files', 'Pass a file, or a directory with one file per partition');
  }

  const files = names.map((name) => ({ name, path: join(dir, name), format: format ?? detectFileFormat(join(dir, name)) }));
  const numbers = names.map((name) => NUMBERED.exec(name)?.[1]);
  if (numbers.every((n): n is string => n !== undefined)) {
    const byPartition = new Map<number, string>();
    const numbered = files.map((file, i) => {
      const partition = Number.parseInt(numbers[i], 10);
      const other = byPartition.get(partition);
      if (other !== undefined) {
        throw new FileInputError(dir, `two files for partition ${partition}: ${other} and ${file.name}`, 'Keep one file per partition');
      }
      byPartition.set(partition, file.name);
      return { partition, path: file.path, format: file.format };
    });
    return numbered.sort((a, b) => a.partition - b.partition);
  }
  return files.map((file, partition) => ({ partition, path: file.path, format: file.format }));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // a dangling symlink is not an input file
  }
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

