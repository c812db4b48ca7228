import { open, type FileHandle } from 'node:fs/promises';
import { fileOpenError } from './file-input-error.js';

const WINDOW = 1 << 20;

/**
 * Random access to a file's bytes through a read-ahead window, so block-structured formats
 * can be parsed without loading the whole file. Returned buffers are never reused, so a view
 * stays valid after later reads.
 */
export class FileBytes {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<FileBytes> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'r');
      const stat = await handle.stat();
      if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      return new FileBytes(path, handle, stat.size);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      throw fileOpenError(path, err);
    }
  }

  /** Bytes [pos, pos + length), shorter only at the end of the file. */
  async read(pos: number, length: number): Promise<Buffer> {
    const end = Math.min(pos + length, this.size);
    if (pos >= this.windowStart && end <= this.windowStart + this.window.length) {
      return this.window.subarray(pos - this.windowStart, end - this.windowStart);
    }
    const want = Math.min(Math.max(end - pos, WINDOW), this.size - pos);
    const buffer = Buffer.allocUnsafe(Math.max(want, 0));
    let filled = 0;
    while (filled < want) {
      const { bytesRead } = await this.handle.read(buffer, filled, want - filled, pos + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    this.window = buffer.subarray(0, filled);
    this.windowStart = pos;
    return this.window.subarray(0, Math.max(0, Math.min(end, pos + filled) - pos));
  }

  /** A private copy of bytes [start, end), for consumers (hyparquet) that want ArrayBuffers. */
  async copy(start: number, end: number): Promise<ArrayBuffer> {
    const length = Math.max(0, Math.min(end, this.size) - start);
    const buffer = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buffer, filled, length - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === length ? buffer.buffer : buffer.buffer.slice(0, filled);
  }

  /** Position of the next occurrence of `needle` at or after `from`, or -1. */
  async indexOf(needle: Uint8Array, from: number): Promise<number> {
    for (let pos = from; pos < this.size; pos += WINDOW - needle.length + 1) {
      const chunk = await this.read(pos, WINDOW);
      const found = chunk.indexOf(needle);
      if (found !== -1) return pos + found;
      if (chunk.length < WINDOW) break;
    }
    return -1;
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}
