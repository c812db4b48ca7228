import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeFailureText } from '../state/storage-problem.js';

/** Append-only NDJSON file for dead letters and late records; opened on first write. */
export class NdjsonSink {
  private fd: number | undefined;
  private buf: string[] = [];
  count = 0;

  constructor(readonly path: string) {}

  write(obj: unknown): void {
    this.buf.push(JSON.stringify(obj));
    this.count++;
    if (this.buf.length >= 1024) this.flush();
  }

  flush(): void {
    if (this.buf.length === 0) return;
    try {
      // 'wx': never truncate a file skewless did not create (the replay removed its own earlier ones).
      if (this.fd === undefined) this.fd = openSync(this.path, 'wx');
      writeSync(this.fd, `${this.buf.join('\n')}\n`);
    } catch (e) {
      throw new Error(writeFailureText(`side output file ${this.path}`, e, 'then run the replay again'));
    }
    this.buf = [];
  }

  close(): void {
    try {
      this.flush();
    } finally {
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Raw bytes as text when they are UTF-8, else base64, for human-readable dead letters. */
export function rawForJson(raw: Uint8Array | string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') return raw;
  return `base64:${Buffer.from(raw).toString('base64')}`;
}

/**
 * One NDJSON file per partition (`<dir>/part-NNNNN.ndjson`), records in offset order: the
 * same layout as training data, so parallel workers never share a file and the bytes do not
 * depend on how partitions interleaved.
 */
export class PartitionedNdjson {
  private readonly files = new Map<number, NdjsonSink>();
  count = 0;

  constructor(readonly dir: string) {}

  write(partition: number, obj: unknown): void {
    let f = this.files.get(partition);
    if (!f) {
      mkdirSync(this.dir, { recursive: true });
      f = new NdjsonSink(join(this.dir, `part-${String(partition).padStart(5, '0')}.ndjson`));
      this.files.set(partition, f);
    }
    f.write(obj);
    this.count++;
  }

  /** Close every file, even after one that cannot be flushed (its error is thrown after the others are closed). */
  close(): void {
    let first: unknown;
    for (const f of this.files.values()) {
      try {
        f.close();
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }
}
