import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import kafkajs from '../../src/io/kafka/kafkajs-runtime.js';
import { kafkaPartition, murmur2, recordKeyText, recordPartition, UNKEYED_PARTITION } from '../../src/io/partitioning.js';

// kafkajs is an independent implementation (Long-based) of the same Java algorithm.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2') as (key: string | Buffer) => number;

function kafkajsPartition(key: unknown, numPartitions: number): number {
  const partitioner = kafkajs.Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: numPartitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return partitioner({ topic: 't', partitionMetadata, message: { key: key as string, value: null } });
}

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

test('murmur2 matches the Java client test vectors (Utils.murmur2)', () => {
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, hash] of vectors) {
    assert.equal(murmur2(utf8(key)), hash, key);
    assert.equal(kafkajsMurmur2(key), hash, `kafkajs agrees on ${key}`);
  }
});

test('murmur2 agrees with kafkajs on every tail length, multi-byte UTF-8 and binary keys', () => {
  const keys: (string | Buffer)[] = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'user-42', 'ключ', '日本語キー', '🙂🙃', 'x'.repeat(1000)];
  for (let i = 0; i < 500; i++) keys.push(`customer-${i * 7919}`);
  keys.push(Buffer.from([0x00, 0xff, 0x80, 0x7f, 0x01]), Buffer.alloc(17, 0xff));
  for (const key of keys) {
    const bytes = typeof key === 'string' ? utf8(key) : key;
    assert.equal(murmur2(bytes), kafkajsMurmur2(key), `key ${JSON.stringify(key.toString())}`);
  }
});

test('kafkaPartition equals kafkajs DefaultPartitioner for string and byte keys', () => {
  for (const partitions of [1, 2, 3, 12, 100]) {
    for (let i = 0; i < 300; i++) {
      const key = i % 3 === 0 ? `card-${i}` : i % 3 === 1 ? `ü-${i}-€` : String(i);
      assert.equal(kafkaPartition(key, partitions), kafkajsPartition(key, partitions), `${key} over ${partitions}`);
    }
    const bytes = Buffer.from([1, 2, 3, 250]);
    assert.equal(kafkaPartition(bytes, partitions), kafkajsPartition(bytes, partitions));
  }
});

test('kafkaPartition hashes a string key without encoding it as its UTF-8 bytes would hash: Java vectors, every tail length, the ASCII boundary', () => {
  const java: [string, number][] = [['21', -973932308], ['foobar', -790332482], ['a-little-bit-longer-string', -1486304829], ['abc', 479470107]];
  for (const [key, hash] of java) assert.equal(kafkaPartition(key, 1_000_003), (hash & 0x7fffffff) % 1_000_003, key);
  const keys = ['', '\u0000', '\u007f', '\u0080', 'ab\u007f', 'ab\u00ff', 'é', '\u{10ffff}'];
  for (let n = 0; n < 12; n++) keys.push('SFOJFKxyzw12'.slice(0, n), `${'~'.repeat(n)}\u0080`);
  for (const key of keys) assert.equal(kafkaPartition(key, 1_000_003), (kafkajsMurmur2(key) & 0x7fffffff) % 1_000_003, JSON.stringify(key));
});

test('kafkaPartition masks the sign bit rather than taking abs (Integer.MIN_VALUE-safe)', () => {
  // "21" hashes negative; Kafka maps it with & 0x7fffffff.
  assert.equal(kafkaPartition('21', 1000), (-973932308 & 0x7fffffff) % 1000);
});

test('kafkaPartition rejects a non-positive partition count', () => {
  assert.throws(() => kafkaPartition('k', 0), RangeError);
  assert.throws(() => kafkaPartition('k', 2.5), RangeError);
});

test('a record key that is not a string is hashed as kafkajs hashes it (its String()); no key goes to partition 0', () => {
  const keys: unknown[] = [42, -7, 3.5, 0, true, false, 12345678901234567890n, 'ü-€', ''];
  for (const partitions of [1, 3, 8, 100]) {
    for (const key of keys) assert.equal(recordPartition(recordKeyText(key), partitions), kafkajsPartition(key, partitions), `${String(key)} over ${partitions}`);
    assert.equal(recordPartition(recordKeyText(null), partitions), UNKEYED_PARTITION);
    assert.equal(recordPartition(recordKeyText(undefined), partitions), UNKEYED_PARTITION);
  }
  assert.equal(recordKeyText(42), '42');
  assert.equal(recordKeyText(''), '', 'an empty key is a key');
  assert.equal(UNKEYED_PARTITION, 0);
});
