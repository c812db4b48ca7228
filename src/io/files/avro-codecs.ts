import { constants, inflateRawSync } from 'node:zlib';
import { compressors, decompressZstd } from 'hyparquet-compressors';

/** Decompresses one OCF block body; throws on corrupt input. */
export type AvroBlockCodec = (block: Buffer) => Buffer;

/**
 * The OCF codecs of the Avro spec that we can read. bzip2 and xz are missing because no
 * installed dependency implements them; files using them fail with a clear error.
 */
export const AVRO_CODECS: Readonly<Record<string, AvroBlockCodec>> = {
  null: (block) => block,
  deflate: (block) => inflateRawSync(block),
  snappy: inflateSnappy,
  zstandard: (block) => toBuffer(decompressZstd(block)),
};

/**
 * Decompressors that return what they can of a block cut short (a truncated file's last
 * block), for the codecs that stream: the records in it up to the cut can still be read.
 */
export const AVRO_PARTIAL_CODECS: Readonly<Record<string, AvroBlockCodec>> = {
  null: (block) => block,
  deflate: (block) => inflateRawSync(block, { finishFlush: constants.Z_SYNC_FLUSH }),
};

/** Avro's snappy blocks are raw snappy followed by a big-endian CRC32 of the uncompressed bytes. */
function inflateSnappy(block: Buffer): Buffer {
  if (block.length < 4) throw new Error('snappy block shorter than its checksum');
  const body = block.subarray(0, block.length - 4);
  // compressors.SNAPPY holds one instantiated wasm module; decompressSnappy would build one per call.
  const snappy = compressors.SNAPPY;
  if (!snappy) throw new Error('no snappy decompressor available');
  const output = toBuffer(snappy(body, snappyLength(body)));
  const expected = block.readUInt32BE(block.length - 4);
  if (crc32(output) !== expected) throw new Error('snappy block checksum mismatch');
  return output;
}

/** Raw snappy starts with the uncompressed length as a little-endian base-128 varint. */
function snappyLength(body: Uint8Array): number {
  let length = 0;
  for (let i = 0, shift = 0; i < 5 && i < body.length; i++, shift += 7) {
    length += (body[i] & 0x7f) * 2 ** shift;
    if ((body[i] & 0x80) === 0) return length;
  }
  throw new Error('snappy block has no valid length prefix');
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE), written out because zlib.crc32 only exists in newer Node 20 releases. */
export function crc32(bytes: Uint8Array): number {
  const table = (crcTable ??= makeCrcTable());
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
