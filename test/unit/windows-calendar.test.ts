import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calendarWindow } from '../../src/time/calendar-window.js';
import { windowsFor } from '../../src/time/window-assigner.js';
import { WindowedAggregation, type WindowRow } from '../../src/ops/windowed-aggregation.js';
import { countAgg } from '../../src/ops/aggregations/count.js';

const ms = (iso: string): number => Date.parse(iso);
const H = 3_600_000;
const NY = 'America/New_York';

test('calendar day in America/New_York on the spring-forward Sunday 2026-03-08 lasts 23 h', () => {
  // 2026-03-08 00:00 EST (UTC−5) = 05:00Z; 2026-03-09 00:00 EDT (UTC−4) = 04:00Z
  const day = [ms('2026-03-08T05:00:00Z'), ms('2026-03-09T04:00:00Z')];
  assert.equal(day[1] - day[0], 23 * H);
  assert.deepEqual(calendarWindow(ms('2026-03-08T12:00:00Z'), 'day', NY), day);
  // first instant of the local day, the last EST instant (01:59:59.999) and the first EDT one (03:00)
  assert.deepEqual(calendarWindow(ms('2026-03-08T05:00:00Z'), 'day', NY), day);
  assert.deepEqual(calendarWindow(ms('2026-03-08T06:59:59.999Z'), 'day', NY), day);
  assert.deepEqual(calendarWindow(ms('2026-03-08T07:00:00Z'), 'day', NY), day);
  assert.deepEqual(calendarWindow(ms('2026-03-09T03:59:59.999Z'), 'day', NY), day);
  // the end belongs to the next day: 2026-03-09 00:00 EDT .. 2026-03-10 00:00 EDT = 24 h
  assert.deepEqual(calendarWindow(ms('2026-03-09T04:00:00Z'), 'day', NY), [ms('2026-03-09T04:00:00Z'), ms('2026-03-10T04:00:00Z')]);
  // 23:59:59.999 EST on Saturday 03-07 is the day before: 03-07 05:00Z .. 03-08 05:00Z = 24 h
  assert.deepEqual(calendarWindow(ms('2026-03-08T04:59:59.999Z'), 'day', NY), [ms('2026-03-07T05:00:00Z'), ms('2026-03-08T05:00:00Z')]);
});

test('calendar day in America/New_York on the fall-back Sunday 2026-11-01 lasts 25 h', () => {
  // 2026-11-01 00:00 EDT (UTC−4) = 04:00Z; 2026-11-02 00:00 EST (UTC−5) = 05:00Z
  const day = [ms('2026-11-01T04:00:00Z'), ms('2026-11-02T05:00:00Z')];
  assert.equal(day[1] - day[0], 25 * H);
  // 01:30 EDT (05:30Z) and 01:30 EST (06:30Z) are the same local day
  assert.deepEqual(calendarWindow(ms('2026-11-01T05:30:00Z'), 'day', NY), day);
  assert.deepEqual(calendarWindow(ms('2026-11-01T06:30:00Z'), 'day', NY), day);
  assert.deepEqual(windowsFor({ kind: 'calendar', unit: 'day', timeZone: NY }, ms('2026-11-02T04:59:59.999Z')), [day]);
});

test('calendar hours around the fall-back: the repeated 1 AM hour is two windows', () => {
  // 01:30 EDT = 05:30Z → [01:00 EDT, 02:00 EDT) = [05:00Z, 06:00Z)
  assert.deepEqual(calendarWindow(ms('2026-11-01T05:30:00Z'), 'hour', NY), [ms('2026-11-01T05:00:00Z'), ms('2026-11-01T06:00:00Z')]);
  // 01:30 EST = 06:30Z → [01:00 EST, 02:00 EST) = [06:00Z, 07:00Z)
  assert.deepEqual(calendarWindow(ms('2026-11-01T06:30:00Z'), 'hour', NY), [ms('2026-11-01T06:00:00Z'), ms('2026-11-01T07:00:00Z')]);
});

test('calendar ISO week (Monday start) and month windows', () => {
  // Sunday 2026-03-08 is in the ISO week Monday 2026-03-02 00:00 EST (05:00Z) .. Monday 2026-03-09 00:00 EDT (04:00Z)
  const week = [ms('2026-03-02T05:00:00Z'), ms('2026-03-09T04:00:00Z')];
  assert.equal(week[1] - week[0], 7 * 24 * H - H);
  assert.deepEqual(calendarWindow(ms('2026-03-08T12:00:00Z'), 'week', NY), week);
  // March 2026 in New York: 03-01 00:00 EST (05:00Z) .. 04-01 00:00 EDT (04:00Z): 31 days − 1 h
  const march = [ms('2026-03-01T05:00:00Z'), ms('2026-04-01T04:00:00Z')];
  assert.equal(march[1] - march[0], 31 * 24 * H - H);
  assert.deepEqual(calendarWindow(ms('2026-03-20T00:00:00Z'), 'month', NY), march);
  // 2026-03-01T04:59Z is still February 28 evening in New York
  assert.deepEqual(calendarWindow(ms('2026-03-01T04:59:00Z'), 'month', NY), [ms('2026-02-01T05:00:00Z'), ms('2026-03-01T05:00:00Z')]);
  // February 2026 in UTC: 28 days
  assert.deepEqual(calendarWindow(ms('2026-02-14T00:00:00Z'), 'month', 'UTC'), [ms('2026-02-01T00:00:00Z'), ms('2026-03-01T00:00:00Z')]);
});

test('a zone whose DST change skips midnight (America/Santiago 2026-09-06) still partitions the time line', () => {
  // Clocks go 00:00 −04 → 01:00 −03, so the local day 09-06 starts at 01:00 −03 = 04:00Z and
  // ends at 09-07 00:00 −03 = 03:00Z (23 h); 09-05 ends where 09-06 starts.
  const z = 'America/Santiago';
  assert.deepEqual(calendarWindow(ms('2026-09-06T12:00:00Z'), 'day', z), [ms('2026-09-06T04:00:00Z'), ms('2026-09-07T03:00:00Z')]);
  assert.deepEqual(calendarWindow(ms('2026-09-06T03:59:59.999Z'), 'day', z), [ms('2026-09-05T04:00:00Z'), ms('2026-09-06T04:00:00Z')]);
  assert.deepEqual(calendarWindow(ms('2026-09-07T03:00:00Z'), 'day', z), [ms('2026-09-07T03:00:00Z'), ms('2026-09-08T03:00:00Z')]);
});

test('an unknown time zone is a clear error, also when building the operator', () => {
  assert.throws(() => calendarWindow(0, 'day', 'America/Gotham'), /unknown IANA time zone "America\/Gotham"/);
  assert.throws(
    () => new WindowedAggregation({ window: { kind: 'calendar', unit: 'day', timeZone: 'Nowhere' }, emit: 'final', grace: 0, aggs: [{ def: countAgg(false), column: -1 }] }),
    /unknown IANA time zone "Nowhere"/,
  );
});

test('daily counts in New York across the spring-forward day close at the local midnight', () => {
  const op = new WindowedAggregation({ window: { kind: 'calendar', unit: 'day', timeZone: NY }, emit: 'final', grace: 0, aggs: [{ def: countAgg(false), column: -1 }] });
  const out: WindowRow[] = [];
  let st = -Infinity;
  for (const iso of ['2026-03-08T05:00:00Z', '2026-03-08T06:59:00Z', '2026-03-08T07:01:00Z', '2026-03-09T03:59:59.999Z', '2026-03-09T04:00:00Z']) {
    const t = ms(iso);
    st = Math.max(st, t);
    assert.equal(op.apply('k', t, 0, [], st, out), true);
    op.advance(st, out);
  }
  // the 23 h day [05:00Z, next 04:00Z) has the first four events; it closes when stream time reaches 03-09T04:00Z
  assert.deepEqual(out, [{ key: 'k', windowStart: ms('2026-03-08T05:00:00Z'), windowEnd: ms('2026-03-09T04:00:00Z'), values: [4], final: true }]);
});
