import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSampleBound } from '../../src/cli/parity-command.js';

const now = Date.UTC(2026, 10, 26, 12, 0, 0);

test('parity --since/--until: a duration counts back from now, an ISO instant is taken as is', () => {
  assert.equal(parseSampleBound('2h', '--since', now), Date.UTC(2026, 10, 26, 10, 0, 0));
  assert.equal(parseSampleBound('1d', '--since', now), Date.UTC(2026, 10, 25, 12, 0, 0));
  assert.equal(parseSampleBound('90m', '--until', now), Date.UTC(2026, 10, 26, 10, 30, 0));
  assert.equal(parseSampleBound('2026-11-20T06:30:00Z', '--since', now), Date.UTC(2026, 10, 20, 6, 30, 0));
  assert.equal(parseSampleBound('2026-11-20', '--since', now), Date.UTC(2026, 10, 20));
});

test('parity --since: a time without a zone or garbage is a one-line error naming the flag', () => {
  assert.throws(() => parseSampleBound('2026-11-20T06:30:00', '--since', now), /^Error: --since 2026-11-20T06:30:00: expected an ISO 8601 time with a zone/);
  assert.throws(() => parseSampleBound('yesterday', '--until', now), /^Error: --until yesterday:/);
});
