/**
 * Durations are typed (src/dsl/duration.ts): `tsc -p .` checks the `@ts-expect-error` lines
 * below (an unused directive is an error), and the test checks at run time that the type and
 * parseDuration agree on every example.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { parseDuration, topology, type Duration } from '../../src/dsl/index.js';

const HOUR = 3_600_000;

// Accepted by the type and by the parser, with their value worked out by hand.
const good: Array<[Duration, number]> = [
  ['250ms', 250],
  ['90s', 90_000],
  ['15m', 15 * 60_000],
  ['1h', HOUR],
  ['1 h', HOUR],
  ['24h', 24 * HOUR],
  ['7d', 7 * 24 * HOUR],
  ['2w', 14 * 24 * HOUR],
  ['0s', 0],
  [1800000, 30 * 60_000],
];

// Each line is a type error; the parser refuses the same values at run time.
const bad: unknown[] = [];
// @ts-expect-error: 'min' is not a unit (write '5m')
bad.push(((d: Duration) => d)('5 min'));
// @ts-expect-error: fractions are not durations (write '90m')
bad.push(((d: Duration) => d)('1.5h'));
// @ts-expect-error: negative
bad.push(((d: Duration) => d)('-5m'));
// @ts-expect-error: 'days' is not a unit (write '7d')
bad.push(((d: Duration) => d)('7days'));
// @ts-expect-error: no number
bad.push(((d: Duration) => d)('h'));
// @ts-expect-error: no unit
bad.push(((d: Duration) => d)('30'));
// @ts-expect-error: exponent
bad.push(((d: Duration) => d)('1e3s'));

test('durations the type accepts parse to the hand-computed milliseconds', () => {
  for (const [d, ms] of good) assert.equal(parseDuration(d), ms, String(d));
});

test('durations the type rejects are refused by the parser too', () => {
  assert.equal(bad.length, 7);
  for (const d of bad) assert.throws(() => parseDuration(d as Duration, 'grace'), /grace: cannot parse/, String(d));
});

test('every DSL option that takes a duration is typed', () => {
  // Never run: only compiled. Each misspelt duration must be a type error where it is written.
  const declare = (): unknown =>
    topology('typed', (t) => {
      const s = t.source<{ k: string; at: number; x: number }>('s', {
        schema: './unused.avsc',
        key: (v) => v.k,
        eventTime: (v) => v.at,
        // @ts-expect-error: grace
        grace: '5 min',
        // @ts-expect-error: maxFutureSkew
        maxFutureSkew: '30 days',
      });
      const g = s.groupBy('k', (v) => v.k);
      // @ts-expect-error: lookback size
      g.lookback('1 hour').count();
      // @ts-expect-error: tile
      g.lookback('7d', { tile: '1hr' }).count();
      // @ts-expect-error: tumbling size
      g.tumbling('1.5h');
      // @ts-expect-error: hopping advance
      g.hopping('1h', '10 m.');
      // @ts-expect-error: session gap
      g.session('30 mins');
      // @ts-expect-error: window grace
      g.tumbling('1h', { grace: '5min' });
      const labels = t.source<{ k: string; at: number }>('labels', { schema: './unused.avsc', key: (v) => v.k, eventTime: (v) => v.at });
      // @ts-expect-error: labelJoin maturity
      s.features('f', { n: g.lookback('1h').count() }, { labelJoin: { from: labels, on: (v) => v.k, matchOn: (l) => l.k, within: '45 days', label: 'y' } });
      return {};
    });
  assert.equal(typeof declare, 'function');
});
