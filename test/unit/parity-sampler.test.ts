import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a32, KeySampler } from '../../src/parity/sampler.js';

const keys = Array.from({ length: 20_000 }, (_, i) => `card-${i}`);

test('FNV-1a matches the reference vectors', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  // Non-ASCII keys hash their UTF-8 bytes (values from a Python FNV-1a over str.encode()).
  assert.equal(fnv1a32('card-é'), 0x11190032);
  assert.equal(fnv1a32('ünïcødé'), 0x5b9027a0);
  assert.equal(fnv1a32('日本'), 0x9f26ee51);
});

test('rate 0 selects nothing, rate 1 everything', () => {
  const none = new KeySampler(0);
  const all = new KeySampler(1);
  for (const k of keys.slice(0, 1000)) {
    assert.equal(none.selects(k), false);
    assert.equal(all.selects(k), true);
  }
});

test('the selected fraction over many keys is close to the rate', () => {
  for (const rate of [0.01, 0.1, 0.3, 0.5, 0.9]) {
    const s = new KeySampler(rate);
    const fraction = keys.filter((k) => s.selects(k)).length / keys.length;
    // 4 binomial standard deviations at n = 20 000.
    const sd = Math.sqrt((rate * (1 - rate)) / keys.length);
    assert.ok(Math.abs(fraction - rate) < 4 * sd + 1e-9, `rate ${rate}: fraction ${fraction}`);
  }
});

test('the same key always gets the same verdict, and lower rates select subsets', () => {
  const a = new KeySampler(0.3);
  const b = new KeySampler(0.3);
  const low = new KeySampler(0.1);
  for (const k of keys.slice(0, 2000)) {
    assert.equal(a.selects(k), b.selects(k));
    assert.equal(a.selects(k), a.selects(k));
    if (low.selects(k)) assert.ok(a.selects(k), `${k}: selected at 0.1 implies selected at 0.3`);
  }
  assert.equal(a.selects('ünïcødé'), new KeySampler(0.3).selects('ünïcødé'));
});

test('invalid rates are rejected', () => {
  for (const r of [-0.1, 1.5, Number.NaN, Infinity]) assert.throws(() => new KeySampler(r), RangeError);
});
