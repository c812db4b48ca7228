/**
 * MurmurHash3 x86_32 (Austin Appleby, public domain algorithm). Sketches hash values with it
 * because a fixed, documented hash makes their state the same on every host and in every run.
 */
export function murmur3(bytes: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = bytes.length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (bytes.length & 3) {
    case 3:
      k ^= bytes[blocks + 2] << 16;
    // falls through
    case 2:
      k ^= bytes[blocks + 1] << 8;
    // falls through
    case 1:
      k ^= bytes[blocks];
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= bytes.length;
  return fmix32(h);
}

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const encoder = new TextEncoder();
const numberBytes = new Uint8Array(9);
const numberView = new DataView(numberBytes.buffer);

/**
 * The bytes a value is hashed as: a type tag, then the float64 (little endian) or the UTF-8
 * text, so 1 and "1" differ as they do in an exact distinct count. −0 is hashed as 0, which
 * an exact count (a Map) treats as the same value.
 */
export function valueBytes(v: number | string): Uint8Array {
  if (typeof v === 'number') {
    numberBytes[0] = 1;
    numberView.setFloat64(1, v === 0 ? 0 : v, true);
    return numberBytes;
  }
  const text = encoder.encode(v);
  const out = new Uint8Array(text.length + 1);
  out[0] = 2;
  out.set(text, 1);
  return out;
}
