/**
 * Binary state encoding. State must round-trip bit-exactly (a -0 or a NaN payload that
 * changed on restore would change an output byte), so numbers are stored as raw float64.
 */

const textEncoder = new TextEncoder();
/** Tag of ByteWriter.pair, after the scalar tags 0 (null), 1 (number) and 2 (string). */
const PAIR = 3;
const textDecoder = new TextDecoder();

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** Unsigned integer up to 2^53, LEB128. */
  uint(v: number): void {
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  str(s: string): void {
    // Keys are mostly short ASCII: copied directly, without an encoder call and its allocation.
    if (s.length < 64) {
      this.ensure(s.length + 1);
      const at = this.pos;
      this.buf[this.pos++] = s.length;
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        this.buf[this.pos++] = c;
      }
      if (i === s.length) return;
      this.pos = at;
    }
    const bytes = textEncoder.encode(s);
    this.uint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** A value that is null, a number or a string. */
  scalar(v: number | string | null): void {
    this.ensure(1);
    if (v === null) this.buf[this.pos++] = 0;
    else if (typeof v === 'number') {
      this.buf[this.pos++] = 1;
      this.f64(v);
    } else {
      this.buf[this.pos++] = 2;
      this.str(v);
    }
  }

  /**
   * A (string, number or null) pair: an event's input to a bucketed aggregation. Tagged after
   * the scalars, so stored scalars read as before; read back with scalarOrPair.
   */
  pair(a: string, b: number | null): void {
    this.ensure(1);
    this.buf[this.pos++] = PAIR;
    this.str(a);
    this.scalar(b);
  }

  /** Length-prefixed bytes, read back with ByteReader.blob. */
  blob(bytes: Uint8Array): void {
    this.uint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** The bytes written so far without a copy: valid until the next write or reset. */
  written(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** Copy the bytes written so far to `target` at `at`: what written() gives, without a view per call. */
  copyInto(target: Uint8Array, at: number): void {
    const n = this.pos;
    const b = this.buf;
    // Spill frames are mostly a few dozen bytes: a loop for those, not a view and set() per frame.
    if (n <= 64) for (let i = 0; i < n; i++) target[at + i] = b[i];
    else target.set(b.subarray(0, n), at);
  }

  /** Start over (bytes() copies, so a writer can be reused for many small entries). */
  reset(): void {
    this.pos = 0;
  }
}

/** One 8-byte scratch for f64 reads: a DataView per reader cost more than the decoding (readers are made per message). */
const F64_SCRATCH = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64_SCRATCH.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Slots of the short-string cache (ByteReader.shortAscii): one string each, by a hash of its bytes. */
const SHORT_STRING_BITS = 12;
const SHORT_STRINGS: string[] = new Array<string>(1 << SHORT_STRING_BITS).fill('');

export class ByteReader {
  private buf: Uint8Array;
  private pos: number;
  /** Reads stop here: the end of the buffer, or of a frame inside it (over). */
  private end: number;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
  }

  /**
   * Read `buf[start, end)` next, as a new reader over `buf.subarray(start, end)` would: a reader
   * kept for a stream of frames (spill files) instead of a view and a reader per frame.
   */
  over(buf: Uint8Array, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  f64(): number {
    const b = this.buf;
    const p = this.pos;
    if (p + 8 > this.end) throw new Error('state decode: unexpected end of buffer');
    // Stored little-endian (ByteWriter.f64).
    if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) F64_BYTES[i] = b[p + i];
    else for (let i = 0; i < 8; i++) F64_BYTES[7 - i] = b[p + i];
    this.pos = p + 8;
    return F64_SCRATCH[0];
  }

  uint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('state decode: unexpected end of buffer');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
  }

  str(): string {
    const len = this.uint();
    if (this.pos + len > this.end) throw new Error('state decode: unexpected end of buffer');
    if (len < 16) {
      const s = this.shortAscii(len);
      if (s !== undefined) return s;
    }
    const s = textDecoder.decode(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  /**
   * A short ASCII string, the one decoded last for the same bytes when it is still in the
   * cache: keys, source names and categories repeat in nearly every message, and a decode per
   * message (a string per character appended) was most of what regroup messages allocated, and
   * kept alive while they are held. Undefined when the bytes are not ASCII.
   */
  private shortAscii(len: number): string | undefined {
    const b = this.buf;
    const p = this.pos;
    let h = len;
    for (let i = 0; i < len; i++) {
      const c = b[p + i];
      if (c >= 0x80) return undefined;
      h = Math.imul(h ^ c, 0x01000193);
    }
    const slot = h >>> (32 - SHORT_STRING_BITS);
    const known = SHORT_STRINGS[slot];
    this.pos = p + len;
    if (known.length === len) {
      let i = 0;
      while (i < len && known.charCodeAt(i) === b[p + i]) i++;
      if (i === len) return known;
    }
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(b[p + i]);
    SHORT_STRINGS[slot] = s;
    return s;
  }

  scalar(): number | string | null {
    if (this.pos >= this.end) throw new Error('state decode: unexpected end of buffer');
    const tag = this.buf[this.pos++];
    if (tag === 0) return null;
    if (tag === 1) return this.f64();
    if (tag === 2) return this.str();
    throw new Error(`state decode: bad scalar tag ${String(tag)}`);
  }

  /** A scalar, or a pair written by ByteWriter.pair (made into a P by `pair`). */
  scalarOrPair<P>(pair: (a: string, b: number | null) => P): number | string | null | P {
    if (this.pos >= this.end || this.buf[this.pos] !== PAIR) return this.scalar();
    this.pos++;
    const a = this.str();
    const b = this.scalar();
    if (typeof b === 'string') throw new Error('state decode: a pair holds a string where a number or null belongs');
    return pair(a, b);
  }

  /** Bytes written by ByteWriter.blob (a view, not a copy). */
  blob(): Uint8Array {
    const len = this.uint();
    if (this.pos + len > this.end) throw new Error('state decode: unexpected end of buffer');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** What `read` reads from here, the position left where it was. */
  peek<T>(read: (r: ByteReader) => T): T {
    const at = this.pos;
    try {
      return read(this);
    } finally {
      this.pos = at;
    }
  }
}
