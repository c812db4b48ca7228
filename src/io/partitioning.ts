/**
 * Kafka's default partitioner for keyed records, so that splitting an archive file into
 * partitions gives every record the partition (and therefore the per-partition order) it
 * would have had on a keyed Kafka topic. Must stay bit-for-bit equal to the Java client's
 * `Utils.murmur2` / `toPositive(hash) % numPartitions` and to kafkajs's DefaultPartitioner.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 variant: a signed 32-bit hash of the bytes (the first `length` of them). */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length;
  const whole = length & ~3;

  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    // Math.imul keeps the 32-bit wrap-around multiplication Java's int arithmetic has.
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }

  // The Java original falls through these cases; written out so each tail length is explicit.
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2] << 16;
  if (tail >= 2) h ^= data[whole + 1] << 8;
  if (tail >= 1) {
    h ^= data[whole];
    h = Math.imul(h, M);
  }

  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition Kafka's default partitioner picks for a record with this key. String keys
 * are hashed as their UTF-8 bytes, as kafkajs and the Java serializer send them.
 */
export function kafkaPartition(key: string | Uint8Array, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1) {
    throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
  }
  let hash: number;
  if (typeof key !== 'string') hash = murmur2(key);
  else {
    const ascii = asciiBytes(key);
    hash = ascii === undefined ? murmur2(Buffer.from(key, 'utf8')) : murmur2(scratch, ascii);
  }
  // Masking (not Math.abs) is what Kafka does: abs(MIN_VALUE) would stay negative.
  return (hash & 0x7fffffff) % numPartitions;
}

/** Where a record without a key goes, in a file split and on a topic `skewless produce` writes alike. */
export const UNKEYED_PARTITION = 0;

/**
 * A topology key as skewless hashes and sends it: kafkajs stringifies a key that is not a Buffer,
 * so String() here too; null or undefined is no key. The file split and `produce` both use this,
 * so a Kafka replay sees every record on the partition a file replay gives it.
 */
export function recordKeyText(key: unknown): string | null {
  return key === null || key === undefined ? null : typeof key === 'string' ? key : String(key);
}

/** The partition of a record whose key text (recordKeyText) is `keyText`. */
export function recordPartition(keyText: string | null, numPartitions: number): number {
  return keyText === null ? UNKEYED_PARTITION : kafkaPartition(keyText, numPartitions);
}

/** Reused by asciiBytes: a key's bytes without a buffer per key. */
let scratch = new Uint8Array(256);

/**
 * Copy an ASCII string (its UTF-8 encoding is its char codes) into `scratch` and return its
 * length; undefined for any other string. Replay routes every record and every regroup message
 * by a string key, and a Buffer per key was a tenth of a regrouped replay.
 */
function asciiBytes(s: string): number | undefined {
  const length = s.length;
  if (length > scratch.length) scratch = new Uint8Array(2 * length);
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return undefined;
    scratch[i] = c;
  }
  return length;
}
