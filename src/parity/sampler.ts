/**
 * Which served vectors go to the parity log (DESIGN.md, "Parity"). Selection is a pure function
 * of the entity key, never of time or randomness, so a sampled key has its whole history in the
 * log (lookback features can only be checked against complete key histories), every worker and
 * restart agrees on the verdict, and a rerun samples the same rows.
 *
 * Hash: 32-bit FNV-1a over the key's UTF-8 bytes, then murmur3's fmix32 finaliser. Not Kafka's
 * murmur2: the partition of a key is murmur2 % partitions, and sampling on the same hash would
 * correlate the sample with partitions. The finaliser is needed because FNV-1a alone mixes its
 * high bits poorly for short keys that differ in the last characters (card-1, card-2, ...), and
 * the verdict compares the whole hash with rate × 2^32: without it 10 % came out as 8.9 %.
 */

import { fmix32 } from '../ops/sketches/murmur3.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TWO_32 = 4294967296;

/** 32-bit FNV-1a of the UTF-8 bytes of `key`, as an unsigned integer in [0, 2^32). */
export function fnv1a32(key: string): number {
  // ASCII keys (the usual ids) are their own UTF-8 bytes: no buffer per served vector.
  let h = FNV_OFFSET;
  let ascii = true;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    h ^= c;
    h = Math.imul(h, FNV_PRIME);
  }
  if (ascii) return h >>> 0;
  const bytes = Buffer.from(key, 'utf8');
  h = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

export { fmix32 };

/** The sampling hash of a key, uniform in [0, 2^32). */
export function sampleHash(key: string): number {
  return fmix32(fnv1a32(key));
}

/** Validates a sampling rate: a finite number in [0, 1]. */
export function checkSampleRate(rate: number): number {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) throw new RangeError(`parity sample rate must be a number in [0, 1], got ${String(rate)}`);
  return rate;
}

/** Selects keys with hash / 2^32 < rate: rate 0 selects none, rate 1 all. */
export class KeySampler {
  readonly rate: number;

  constructor(rate: number) {
    this.rate = checkSampleRate(rate);
  }

  selects(key: string): boolean {
    if (this.rate >= 1) return true;
    if (this.rate <= 0) return false;
    return sampleHash(key) / TWO_32 < this.rate;
  }
}
