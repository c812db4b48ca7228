/**
 * The binary codec (src/state/codec.ts) under the two things that make its reads cheap: short
 * ASCII strings come from a cache of 4,096 slots by a hash of their bytes, and one reader is
 * pointed at frame after frame of a larger buffer (ByteReader.over) instead of a view and a
 * reader per frame. A string must always read back as itself, however many others share its
 * slot, and a frame's reads must stop at the frame's end, not the buffer's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader, ByteWriter } from '../../src/state/codec.js';
import { mulberry32 } from '../helpers/prng.js';

test('strings read back as themselves across cache collisions, lengths and alphabets', () => {
  const rnd = mulberry32(7);
  const alphabet = 'ab';
  // 60,000 distinct strings over a two-letter alphabet (many of the same length in each of the
  // 4,096 slots) plus repeats, the empty string, the short-cache limit (15 and 16 characters)
  // and non-ASCII text, which must bypass the cache.
  const pool: string[] = ['', 'é', 'naïve', '日本', '🙂', 'x'.repeat(15), 'y'.repeat(16), 'z'.repeat(300)];
  for (let i = 0; i < 60_000; i++) {
    const len = 1 + Math.floor(rnd() * 15);
    let s = '';
    for (let c = 0; c < len; c++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    pool.push(s + String(i % 10));
  }
  const sequence: string[] = [];
  for (let i = 0; i < 200_000; i++) sequence.push(pool[rnd() < 0.5 ? Math.floor(rnd() * 50) : Math.floor(rnd() * pool.length)]);
  const w = new ByteWriter();
  for (const s of sequence) w.str(s);
  const r = new ByteReader(w.bytes());
  for (let i = 0; i < sequence.length; i++) assert.equal(r.str(), sequence[i], `string ${i}`);
  assert.ok(r.done);
});

test('a reader pointed at a frame stops at the frame end, not the buffer end', () => {
  const frame = new ByteWriter();
  frame.uint(300);
  frame.str('origin');
  frame.f64(-0);
  frame.scalar('ATL');
  const body = frame.bytes();
  // The frame sits between other bytes, as in a spill reader's buffer.
  const buf = new Uint8Array(body.length + 40).fill(0x41);
  buf.set(body, 17);
  const r = new ByteReader(new Uint8Array(0)).over(buf, 17, 17 + body.length);
  assert.equal(r.uint(), 300);
  assert.equal(r.str(), 'origin');
  assert.ok(Object.is(r.f64(), -0));
  assert.equal(r.scalar(), 'ATL');
  assert.ok(r.done);
  // Every kind of read past the frame fails, though the buffer goes on.
  const reads: Array<[string, (x: ByteReader) => unknown]> = [
    ['uint', (x) => x.uint()],
    ['f64', (x) => x.f64()],
    ['str', (x) => x.str()],
    ['scalar', (x) => x.scalar()],
    ['blob', (x) => x.blob()],
  ];
  for (const [name, read] of reads) {
    const at = new ByteReader(new Uint8Array(0)).over(buf, 17, 17 + body.length);
    at.uint();
    at.str();
    at.f64();
    at.scalar();
    assert.throws(() => read(at), /unexpected end of buffer/, name);
  }
  // A string that runs past the frame end: refused, not cut short.
  const long = new ByteWriter();
  long.str('abcdefgh');
  const bytes = long.bytes();
  assert.throws(() => new ByteReader(new Uint8Array(0)).over(bytes, 0, bytes.length - 2).str(), /unexpected end of buffer/);
  assert.throws(() => new ByteReader(bytes.subarray(0, bytes.length - 2)).str(), /unexpected end of buffer/);
});

test('peek reads without moving the reader', () => {
  const w = new ByteWriter();
  w.uint(5);
  w.str('key');
  const r = new ByteReader(w.bytes());
  assert.deepEqual(
    r.peek((x) => [x.uint(), x.str()]),
    [5, 'key'],
  );
  assert.equal(r.uint(), 5);
  assert.equal(r.str(), 'key');
});
