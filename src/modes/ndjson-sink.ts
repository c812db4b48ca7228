import { closeSync, openSync, writeSync } from 'node:fs';

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
    if (this.fd === undefined) this.fd = openSync(this.path, 'w');
    writeSync(this.fd, `${this.buf.join('\n')}\n`);
    this.buf = [];
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Raw bytes as text when they are UTF-8, else base64, for human-readable dead letters. */
export function rawForJson(raw: Uint8Array | string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') return raw;
  return `base64:${Buffer.from(raw).toString('base64')}`;
}
