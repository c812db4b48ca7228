import assert from 'node:assert/strict';
import { test } from 'node:test';
import { strictUtf8Type } from '../../src/io/avro/avro-strict-strings.js';

/** One Avro string: zigzag varint length, then the bytes. */
function encoded(bytes: readonly number[]): Buffer {
  const out: number[] = [];
  let n = bytes.length * 2;
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n, ...bytes);
  return Buffer.from(out);
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

test('strict strings: short ASCII strings read from the table of earlier ones are the strings of their bytes', () => {
  const type = strictUtf8Type('string');
  // Every two-letter string over 40 letters (1,600 of them, against 4,096 slots: many share a
  // slot), read in three rounds in different orders, then 33-byte and non-ASCII ones beside.
  const letters = Array.from({ length: 40 }, (_, i) => String.fromCharCode(0x30 + i));
  const words = letters.flatMap((a) => letters.map((b) => a + b));
  for (let round = 0; round < 3; round++) {
    const order = round === 1 ? [...words].reverse() : round === 2 ? words.map((_, i) => words[(i * 7919) % words.length]) : words;
    for (const w of order) assert.equal(type.fromBuffer(encoded(ascii(w))), w);
  }
  for (const w of ['', 'a', 'x'.repeat(32), 'y'.repeat(33), 'JFK', 'JFK-LAX', '\u007f\u0000']) {
    assert.equal(type.fromBuffer(encoded(ascii(w))), w);
    assert.equal(type.fromBuffer(encoded(ascii(w))), w, `${JSON.stringify(w)} a second time`);
  }
  // A repeated string is one string object (the engine's key lookups hash it once).
  const a = type.fromBuffer(encoded(ascii('ORD'))) as string;
  const b = type.fromBuffer(encoded(ascii('ORD'))) as string;
  assert.equal(a, b);
  // Not ASCII: decoded as UTF-8, and invalid UTF-8 still refused, after its ASCII prefix was seen.
  assert.equal(type.fromBuffer(encoded([0x68, 0xc3, 0xa9])), 'hé');
  assert.equal(type.fromBuffer(encoded([0x68])), 'h');
  assert.throws(() => type.fromBuffer(encoded([0x68, 0xff])), /invalid UTF-8/);
  // A lone continuation byte is no Latin-1 letter here either.
  assert.throws(() => type.fromBuffer(encoded([0x68, 0xa9])), /invalid UTF-8/);
  // Same length and slot-mates with one byte apart never answer for each other.
  for (let i = 0; i < 2000; i++) {
    const w = `k${i}`;
    assert.equal(type.fromBuffer(encoded(ascii(w))), w);
  }
  for (let i = 1999; i >= 0; i--) assert.equal(type.fromBuffer(encoded(ascii(`k${i}`))), `k${i}`);
});
