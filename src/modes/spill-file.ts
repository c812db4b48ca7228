import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import type { ByteReader, ByteWriter } from '../state/codec.js';
import { writeFailureText } from '../state/storage-problem.js';

const BUFFER = 1 << 20;

/** A spill file that cannot be opened or written: which one, why, and what to do. */
const spillWriteError = (path: string, e: unknown): Error => new Error(writeFailureText(`spill file ${path}`, e, 'then run the replay again (or point the spill elsewhere with TMPDIR)'));

/**
 * An append-only file of length-prefixed frames (uint32 LE length, then the bytes), written
 * through a 1 MiB buffer: replay's spill of regroup messages, partial rows and answers, so a
 * shuffle of any size never has to fit in memory.
 */
export class SpillWriter {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(BUFFER);
  private pos = 0;
  frames = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      throw spillWriteError(path, e);
    }
  }

  write(frame: Uint8Array): void {
    this.reserve(frame.length);
    this.buf.set(frame, this.pos + 4);
    this.pos += frame.length + 4;
  }

  /** The bytes `w` holds as one frame (write(w.written()) without a view per frame). */
  writeFrom(w: ByteWriter): void {
    const n = w.length;
    this.reserve(n);
    w.copyInto(this.buf, this.pos + 4);
    this.pos += n + 4;
  }

  /** Room for a frame of n bytes at pos, its length written. */
  private reserve(n: number): void {
    const need = n + 4;
    if (this.pos + need > this.buf.length) {
      this.flush();
      if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need);
    }
    this.buf.writeUInt32LE(n, this.pos);
    this.frames++;
  }

  private flush(): void {
    let done = 0;
    try {
      while (done < this.pos) done += writeSync(this.fd, this.buf, done, this.pos - done);
    } catch (e) {
      throw spillWriteError(this.path, e);
    }
    this.pos = 0;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

/** Reads a SpillWriter's frames back in order, a buffer at a time. */
export class SpillReader {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(BUFFER);
  private start = 0;
  private end = 0;
  private eof = false;
  private closed = false;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
  }

  /** The next frame (a view valid until the next call), or undefined at the end of the file. */
  next(): Uint8Array | undefined {
    if (!this.fill(4)) return undefined;
    const len = this.buf.readUInt32LE(this.start);
    if (!this.fill(4 + len)) throw new Error(`${this.path}: truncated frame (${len} bytes announced); the spill file is incomplete`);
    const frame = this.buf.subarray(this.start + 4, this.start + 4 + len);
    this.start += 4 + len;
    return frame;
  }

  /**
   * Point `reader` at the next frame (valid until the next call) and return it, or undefined
   * at the end of the file: next() without a view per frame.
   */
  nextInto(reader: ByteReader): ByteReader | undefined {
    if (!this.fill(4)) return undefined;
    const len = this.buf.readUInt32LE(this.start);
    if (!this.fill(4 + len)) throw new Error(`${this.path}: truncated frame (${len} bytes announced); the spill file is incomplete`);
    const at = this.start + 4;
    this.start = at + len;
    return reader.over(this.buf, at, at + len);
  }

  /** Make at least n unread bytes available; false at a clean end of file. */
  private fill(n: number): boolean {
    while (this.end - this.start < n) {
      if (this.eof) {
        if (this.end === this.start) return false;
        throw new Error(`${this.path}: truncated frame at the end of the spill file`);
      }
      if (this.start > 0) {
        this.buf.copy(this.buf, 0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      if (n > this.buf.length) {
        const bigger = Buffer.allocUnsafe(n);
        this.buf.copy(bigger, 0, 0, this.end);
        this.buf = bigger;
      }
      const got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      if (got === 0) this.eof = true;
      this.end += got;
    }
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
