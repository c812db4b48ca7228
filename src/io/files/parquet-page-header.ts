/**
 * Parquet page headers (Thrift compact protocol), read as far as the flat-column decoder needs
 * (parquet-flat-decoder.ts): page kind and sizes, value count, encodings, and for v2 pages the
 * null count, level lengths and whether the values are compressed. Other fields are skipped.
 */

/** Thrift compact protocol, as much as page headers need; its varints also head the runs of RLE / bit-packed levels. */
export class CompactReader {
  pos: number;
  constructor(
    private readonly bytes: Uint8Array,
    pos: number,
  ) {
    this.pos = pos;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.bytes[this.pos++];
      if (b === undefined) throw new Error('a varint runs past its bytes');
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long in a page header');
    }
  }
  zigzag(): number {
    const n = this.varint();
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }
  /** A struct's fields as (id, type, read-or-skip); `field` reads the ones it knows and returns false for the others. */
  struct(field: (id: number, type: number) => boolean): void {
    let last = 0;
    for (;;) {
      const head = this.bytes[this.pos++];
      if (head === undefined) throw new Error('page header runs past the column chunk');
      if (head === 0) return;
      const type = head & 0x0f;
      const delta = head >> 4;
      const id = delta === 0 ? this.zigzag() : last + delta;
      last = id;
      if (!field(id, type)) this.skip(type);
    }
  }
  skip(type: number): void {
    switch (type) {
      case 1:
      case 2:
        return; // booleans live in the field header
      case 3:
        this.pos++;
        return;
      case 4:
      case 5:
      case 6:
        this.varint();
        return;
      case 7:
        this.pos += 8;
        return;
      case 8: {
        const length = this.varint(); // read before adding: `pos += varint()` would add to the old pos
        this.pos += length;
        return;
      }
      case 9:
      case 10: {
        const head = this.bytes[this.pos++];
        const size = head >> 4 === 0x0f ? this.varint() : head >> 4;
        for (let i = 0; i < size; i++) this.skip(head & 0x0f);
        return;
      }
      case 11: {
        const size = this.varint();
        if (size === 0) return;
        const kv = this.bytes[this.pos++];
        for (let i = 0; i < size; i++) {
          this.skip(kv >> 4);
          this.skip(kv & 0x0f);
        }
        return;
      }
      case 12:
        this.struct(() => false);
        return;
      default:
        throw new Error(`unknown thrift type ${type} in a page header`);
    }
  }
}

export interface PageHeader {
  type: number;
  uncompressed: number;
  compressed: number;
  numValues: number;
  encoding: number;
  defEncoding: number;
  /** v2 only */
  numNulls: number;
  defBytes: number;
  repBytes: number;
  isCompressed: boolean;
}

export function readPageHeader(r: CompactReader): PageHeader {
  const h: PageHeader = { type: -1, uncompressed: -1, compressed: -1, numValues: 0, encoding: -1, defEncoding: 3, numNulls: 0, defBytes: 0, repBytes: 0, isCompressed: true };
  r.struct((id, type) => {
    if (id === 1 && type === 5) h.type = r.zigzag();
    else if (id === 2 && type === 5) h.uncompressed = r.zigzag();
    else if (id === 3 && type === 5) h.compressed = r.zigzag();
    else if ((id === 5 || id === 7) && type === 12) {
      // Data page v1 and dictionary page: num_values, encoding, (v1) definition level encoding.
      r.struct((f, t) => {
        if (f === 1 && t === 5) h.numValues = r.zigzag();
        else if (f === 2 && t === 5) h.encoding = r.zigzag();
        else if (f === 3 && t === 5 && id === 5) h.defEncoding = r.zigzag();
        else return false;
        return true;
      });
    } else if (id === 8 && type === 12) {
      r.struct((f, t) => {
        if (f === 1 && t === 5) h.numValues = r.zigzag();
        else if (f === 2 && t === 5) h.numNulls = r.zigzag();
        else if (f === 4 && t === 5) h.encoding = r.zigzag();
        else if (f === 5 && t === 5) h.defBytes = r.zigzag();
        else if (f === 6 && t === 5) h.repBytes = r.zigzag();
        else if (f === 7 && (t === 1 || t === 2)) h.isCompressed = t === 1;
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return h;
}
