/**
 * Low-level Parquet value encodings for the training writer: a growable byte buffer, the
 * RLE/bit-packed hybrid, DELTA_BINARY_PACKED for INT64, PLAIN strings and a dictionary
 * builder keyed by the 64-bit pattern of a number. Everything works on typed arrays and plain
 * numbers (no BigInt, no per-value allocation) and is deterministic: the bytes depend only on
 * the values.
 */

/** A growable little-endian byte buffer. `bytes` and `view` are replaced when it grows. */
export class ByteBuf {
  bytes: Buffer;
  view: DataView;
  pos = 0;

  constructor(capacity = 1 << 16) {
    this.bytes = Buffer.allocUnsafeSlow(capacity);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  /** Makes room for `extra` more bytes after `pos`. */
  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.bytes.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(need, this.bytes.length * 2));
    this.bytes.copy(grown, 0, 0, this.pos);
    this.bytes = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  u8(value: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = value;
  }

  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, value, true);
    this.pos += 4;
  }

  /** Unsigned LEB128 of a non-negative safe integer. */
  varint(value: number): void {
    this.ensure(8);
    const bytes = this.bytes;
    let pos = this.pos;
    while (value >= 0x80) {
      bytes[pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    bytes[pos++] = value;
    this.pos = pos;
  }

  /** Zigzag varint of a safe integer (Thrift i32/i64, delta encoding). */
  zigzag(value: number): void {
    if (value >= -(2 ** 52) && value <= 2 ** 52) {
      this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
      return;
    }
    // 2|value| no longer fits a double exactly.
    const v = BigInt(value);
    let z = v >= 0n ? v * 2n : -v * 2n - 1n;
    this.ensure(10);
    while (z >= 0x80n) {
      this.bytes[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.bytes[this.pos++] = Number(z);
  }

  append(src: Uint8Array): void {
    this.ensure(src.length);
    this.bytes.set(src, this.pos);
    this.pos += src.length;
  }

  /** The written bytes (a view, valid until the next write). */
  view0(): Uint8Array {
    return this.bytes.subarray(0, this.pos);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * RLE/bit-packed hybrid encoding of `values[0..n)`, each < 2^bitWidth (1 ≤ bitWidth ≤ 24):
 * runs of 8 or more equal values become RLE runs, everything else bit-packed groups of 8.
 */
export function writeRleHybrid(out: ByteBuf, values: Int32Array | Uint8Array, n: number, bitWidth: number): void {
  const valueBytes = (bitWidth + 7) >> 3;
  let i = 0;
  let packedStart = 0;
  let packedGroups = 0;
  while (i < n) {
    const v = values[i];
    let j = i + 1;
    while (j < n && values[j] === v) j++;
    if (j - i >= 8) {
      if (packedGroups > 0) {
        writeBitPacked(out, values, n, packedStart, packedGroups, bitWidth);
        packedGroups = 0;
      }
      out.varint((j - i) * 2);
      out.ensure(valueBytes);
      for (let b = 0; b < valueBytes; b++) out.bytes[out.pos++] = (v >>> (8 * b)) & 0xff;
      i = j;
    } else {
      if (packedGroups === 0) packedStart = i;
      packedGroups++;
      i += 8;
    }
  }
  if (packedGroups > 0) writeBitPacked(out, values, n, packedStart, packedGroups, bitWidth);
}

/** Bit-packed run of `groups` groups of 8 values from `start`; values at or past `n` are 0. */
function writeBitPacked(out: ByteBuf, values: Int32Array | Uint8Array, n: number, start: number, groups: number, bitWidth: number): void {
  out.varint(groups * 2 + 1);
  const count = groups * 8;
  out.ensure(groups * bitWidth);
  const bytes = out.bytes;
  let pos = out.pos;
  const end = Math.min(n, start + count);
  if (bitWidth === 1) {
    let i = start;
    for (; i + 8 <= end; i += 8) {
      bytes[pos++] =
        values[i] | (values[i + 1] << 1) | (values[i + 2] << 2) | (values[i + 3] << 3) | (values[i + 4] << 4) | (values[i + 5] << 5) | (values[i + 6] << 6) | (values[i + 7] << 7);
    }
    if (i < start + count) {
      let byte = 0;
      for (let k = 0; i + k < end; k++) byte |= values[i + k] << k;
      bytes[pos++] = byte;
    }
    out.pos = pos;
    return;
  }
  let acc = 0;
  let bits = 0;
  for (let i = start; i < start + count; i++) {
    acc |= (i < end ? values[i] : 0) << bits; // bits < 8 and bitWidth ≤ 24: fits 31 bits
    bits += bitWidth;
    while (bits >= 8) {
      bytes[pos++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  out.pos = pos;
}

/** Bits needed for values up to `max` (an unsigned 32-bit number), at least 1. */
export function bitWidthOf(max: number): number {
  return Math.max(1, 32 - Math.clz32(max));
}

/**
 * Repetition or definition levels, v1 page style: a 4-byte length, then the RLE/bit-packed
 * hybrid at the bit width of the column's maximum level.
 */
export function writeLevels(out: ByteBuf, levels: Uint8Array, n: number, bitWidth: number): void {
  out.ensure(4);
  const lengthAt = out.pos;
  out.pos += 4;
  writeRleHybrid(out, levels, n, bitWidth);
  out.view.setUint32(lengthAt, out.pos - lengthAt - 4, true);
}

/** Definition levels of an optional flat column (1 = present). */
export function writeDefinitionLevels(out: ByteBuf, defs: Uint8Array, n: number): void {
  writeLevels(out, defs, n, 1);
}

/** PLAIN DOUBLE values. */
export function writePlainDoubles(out: ByteBuf, values: Float64Array, m: number): void {
  out.ensure(m * 8);
  if (LITTLE_ENDIAN) {
    out.bytes.set(new Uint8Array(values.buffer, values.byteOffset, m * 8), out.pos);
  } else {
    const view = out.view;
    for (let i = 0; i < m; i++) view.setFloat64(out.pos + i * 8, values[i], true);
  }
  out.pos += m * 8;
}

/** PLAIN INT32 values (integers held as numbers). */
export function writePlainInt32(out: ByteBuf, values: Float64Array, m: number): void {
  out.ensure(m * 4);
  const view = out.view;
  let pos = out.pos;
  for (let i = 0; i < m; i++, pos += 4) view.setInt32(pos, values[i], true);
  out.pos = pos;
}

const TWO_32 = 4294967296;

/** Writes a safe integer as a little-endian two's-complement int64 at `pos`, without BigInt. */
export function setInt64(view: DataView, pos: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  view.setUint32(pos, value - hi * TWO_32, true);
  view.setInt32(pos + 4, hi, true);
}

/** PLAIN INT64 values: safe integers held as numbers, or bigints at the slots in `big`. */
export function writePlainInt64(out: ByteBuf, values: Float64Array, m: number, big?: ReadonlyMap<number, bigint>): void {
  out.ensure(m * 8);
  const view = out.view;
  let pos = out.pos;
  for (let i = 0; i < m; i++, pos += 8) {
    const b = big?.get(i);
    if (b === undefined) setInt64(view, pos, values[i]);
    else view.setBigInt64(pos, b, true);
  }
  out.pos = pos;
}

/** PLAIN BOOLEAN: bit-packed, least significant bit first. */
export function writePlainBooleans(out: ByteBuf, values: Uint8Array, m: number): void {
  const full = m >> 3;
  out.ensure(full + 1);
  const bytes = out.bytes;
  let pos = out.pos;
  let i = 0;
  for (; i + 8 <= m; i += 8) {
    bytes[pos++] =
      values[i] | (values[i + 1] << 1) | (values[i + 2] << 2) | (values[i + 3] << 3) | (values[i + 4] << 4) | (values[i + 5] << 5) | (values[i + 6] << 6) | (values[i + 7] << 7);
  }
  if (i < m) {
    let byte = 0;
    for (let k = 0; i + k < m; k++) byte |= values[i + k] << k;
    bytes[pos++] = byte;
  }
  out.pos = pos;
}

/** Appends `s` as a PLAIN BYTE_ARRAY (4-byte length, UTF-8); returns its UTF-8 length. */
export function writePlainString(out: ByteBuf, s: string): number {
  const length = s.length;
  out.ensure(4 + length * 3); // a UTF-16 code unit never takes more than 3 UTF-8 bytes
  const bytes = out.bytes;
  const start = out.pos + 4;
  let pos = start;
  let i = 0;
  for (; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    bytes[pos++] = c;
  }
  if (i < length) pos = start + bytes.write(s, start, 'utf8');
  const written = pos - start;
  out.view.setUint32(out.pos, written, true);
  out.pos = pos;
  return written;
}

/**
 * DELTA_BINARY_PACKED encoding of `values[0..m)` (safe integers, m ≥ 1): blocks of 128 values
 * in 4 miniblocks of 32. Returns false, leaving `out.pos` where it was, when a delta does not
 * fit the exact-number arithmetic used here (|delta| > 2^52, or a miniblock wider than 32 bits);
 * the caller then writes PLAIN.
 */
export function writeDeltaBinaryPacked(out: ByteBuf, values: Float64Array, m: number, deltas: Float64Array, packed: Int32Array): boolean {
  const start = out.pos;
  out.varint(128);
  out.varint(4);
  out.varint(m);
  out.zigzag(values[0]);
  const LIMIT = 2 ** 52;
  for (let b = 1; b < m; b += 128) {
    const count = Math.min(128, m - b);
    let minDelta = Infinity;
    for (let k = 0; k < count; k++) {
      const d = values[b + k] - values[b + k - 1];
      if (d > LIMIT || d < -LIMIT) {
        out.pos = start;
        return false;
      }
      deltas[k] = d;
      if (d < minDelta) minDelta = d;
    }
    out.zigzag(minDelta);
    out.ensure(4 + 4 * 32 * 4);
    const widthsAt = out.pos;
    out.pos += 4;
    for (let mb = 0; mb < 4; mb++) {
      const from = mb * 32;
      if (from >= count) {
        out.bytes[widthsAt + mb] = 0;
        continue;
      }
      const to = Math.min(count, from + 32);
      let max = 0;
      for (let k = from; k < to; k++) {
        const v = deltas[k] - minDelta;
        if (v > max) max = v;
      }
      if (max > 0xffffffff) {
        out.pos = start;
        return false;
      }
      const width = max === 0 ? 0 : 32 - Math.clz32(max);
      out.bytes[widthsAt + mb] = width;
      if (width === 0) continue;
      for (let k = 0; k < 32; k++) packed[k] = from + k < to ? (deltas[from + k] - minDelta) >>> 0 : 0;
      packMiniblock(out, packed, width);
    }
  }
  return true;
}

/** 32 unsigned values at `width` bits each (4 × width bytes), least significant bit first. */
function packMiniblock(out: ByteBuf, values: Int32Array, width: number): void {
  const bytes = out.bytes;
  let pos = out.pos;
  let acc = 0;
  let bits = 0;
  for (let k = 0; k < 32; k++) {
    const v = values[k] >>> 0;
    if (width <= 24) {
      acc |= v << bits;
      bits += width;
    } else {
      acc |= (v & 0xffff) << bits;
      bits += 16;
      while (bits >= 8) {
        bytes[pos++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
      acc |= (v >>> 16) << bits;
      bits += width - 16;
    }
    while (bits >= 8) {
      bytes[pos++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  out.pos = pos;
}

/**
 * Dictionary of `values[0..m)` by 64-bit pattern (so 0 and -0, or NaNs with different
 * payloads, stay distinct). Fills `indexes` and returns the position of each entry's first
 * occurrence, in first-occurrence order, or undefined once there are more than `maxEntries`
 * (or, checked after 8192, 16384, ... values, when more than 90% of them so far are distinct).
 */
export function buildNumberDictionary(values: Float64Array, m: number, maxEntries: number, indexes: Int32Array): Int32Array | undefined {
  const words = new Int32Array(values.buffer, values.byteOffset, m * 2);
  let log2 = 4;
  while (1 << log2 < maxEntries * 2) log2++;
  const size = 1 << log2;
  const shift = 32 - log2;
  const mask = size - 1;
  const table = new Int32Array(size); // entry + 1; 0 is empty
  const firsts = new Int32Array(maxEntries);
  let entries = 0;
  let checkpoint = 8192;
  for (let i = 0; i < m; i++) {
    if (i === checkpoint) {
      // Values still more than 90% distinct this far in will not end up at half.
      if (entries * 10 > i * 9) return undefined;
      checkpoint *= 2;
    }
    const lo = words[2 * i];
    const hi = words[2 * i + 1];
    let slot = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> shift;
    for (;;) {
      const e = table[slot];
      if (e === 0) {
        if (entries === maxEntries) return undefined;
        firsts[entries] = i;
        table[slot] = ++entries;
        indexes[i] = entries - 1;
        break;
      }
      const f = firsts[e - 1];
      if (words[2 * f] === lo && words[2 * f + 1] === hi) {
        indexes[i] = e - 1;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  return firsts.subarray(0, entries);
}

/** Distinct 64-bit patterns among about 1000 values spread evenly over `values[0..m)`. */
export function sampleDistinct(values: Float64Array, m: number): { sampled: number; distinct: number } {
  const sampled = Math.min(m, 1000);
  const seen = new Set<number>();
  let zeros = 0;
  for (let k = 0; k < sampled; k++) {
    const v = values[Math.floor((k * m) / sampled)];
    if (v === 0) zeros |= Object.is(v, -0) ? 2 : 1;
    else seen.add(v); // NaNs count once: a rough estimate is all this is for
  }
  return { sampled, distinct: seen.size + (zeros & 1) + (zeros >> 1) };
}
