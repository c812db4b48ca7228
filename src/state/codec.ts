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

  /** Start over (bytes() copies, so a writer can be reused for many small entries). */
  reset(): void {
    this.pos = 0;
  }
}

/** One 8-byte scratch for f64 reads: a DataView per reader cost more than the decoding (readers are made per message). */
const F64_SCRATCH = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64_SCRATCH.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class ByteReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  f64(): number {
    const b = this.buf;
    const p = this.pos;
    if (p + 8 > b.length) throw new Error('state decode: unexpected end of buffer');
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
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error('state decode: unexpected end of buffer');
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
  }

  str(): string {
    const len = this.uint();
    if (len < 16) {
      let ascii = '';
      let i = 0;
      for (; i < len && this.buf[this.pos + i] < 0x80; i++) ascii += String.fromCharCode(this.buf[this.pos + i]);
      if (i === len) {
        this.pos += len;
        return ascii;
      }
    }
    const s = textDecoder.decode(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  scalar(): number | string | null {
    const tag = this.buf[this.pos++];
    if (tag === 0) return null;
    if (tag === 1) return this.f64();
    if (tag === 2) return this.str();
    throw new Error(`state decode: bad scalar tag ${String(tag)}`);
  }

  /** A scalar, or a pair written by ByteWriter.pair (made into a P by `pair`). */
  scalarOrPair<P>(pair: (a: string, b: number | null) => P): number | string | null | P {
    if (this.buf[this.pos] !== PAIR) return this.scalar();
    this.pos++;
    const a = this.str();
    const b = this.scalar();
    if (typeof b === 'string') throw new Error('state decode: a pair holds a string where a number or null belongs');
    return pair(a, b);
  }

  /** Bytes written by ByteWriter.blob (a view, not a copy). */
  blob(): Uint8Array {
    const len = this.uint();
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }
}
