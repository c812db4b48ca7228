/**
 * Calendar windows follow their zone's rules as the runtime's tz data gives them: rules a Node
 * upgrade changes would move the windows under the same topology version (before, the version
 * held the zone's name only). The version now holds a fingerprint of the zone's UTC offset
 * changes from 1970 to 2100; these tests check that those changes are the zone's real ones (by
 * the law that sets them, not by the code), that zones with the same rules share it and zones
 * with other rules do not, and that it is part of the version of calendar windows only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import { compilePlan } from '../../src/plan/compile.js';
import { zoneRulesFingerprint, zoneTransitions } from '../../src/time/zone-rules.js';

const HERE = fileURLToPath(import.meta.url);
const HOUR = 3_600_000;

/** The n-th (1-based) Sunday of a month, or the last when n is 0, as a UTC date at 00:00. */
function sunday(year: number, month: number, n: number): number {
  if (n === 0) {
    const last = new Date(Date.UTC(year, month + 1, 0));
    return Date.UTC(year, month, last.getUTCDate() - last.getUTCDay());
  }
  const first = new Date(Date.UTC(year, month, 1)).getUTCDay();
  return Date.UTC(year, month, 1 + ((7 - first) % 7) + 7 * (n - 1));
}

test('the offset changes found are the law\'s: US Eastern since 2007, the EU since 1996', () => {
  // Energy Policy Act of 2005: from 2007, 2 AM local on the second Sunday of March (EST, UTC−5: 07:00 UTC)
  // and 2 AM local on the first Sunday of November (EDT, UTC−4: 06:00 UTC).
  const us: Array<readonly [number, number]> = [];
  for (let y = 2007; y < 2100; y++) us.push([sunday(y, 2, 2) + 7 * HOUR, -240], [sunday(y, 10, 1) + 6 * HOUR, -300]);
  const from = Date.UTC(2007, 0, 1);
  assert.deepEqual(zoneTransitions('America/New_York', from, Date.UTC(2100, 0, 1)), [[from, -300], ...us]);
  // EU summer time (Directive 2000/84/EC, the same since 1996): 01:00 UTC on the last Sundays of March and October.
  const eu: Array<readonly [number, number]> = [];
  for (let y = 1996; y < 2100; y++) eu.push([sunday(y, 2, 0) + HOUR, 120], [sunday(y, 9, 0) + HOUR, 60]);
  const euFrom = Date.UTC(1996, 0, 1);
  assert.deepEqual(zoneTransitions('Europe/Berlin', euFrom, Date.UTC(2100, 0, 1)), [[euFrom, 60], ...eu]);
});

test('zones with the same rules share a fingerprint, zones with other rules do not', () => {
  assert.equal(zoneRulesFingerprint('US/Eastern'), zoneRulesFingerprint('America/New_York'), 'an alias');
  assert.equal(zoneRulesFingerprint('Etc/UTC'), zoneRulesFingerprint('UTC'));
  const distinct = ['America/New_York', 'America/Detroit', 'America/Phoenix', 'Europe/Berlin', 'Europe/London', 'UTC', 'Australia/Lord_Howe'].map(zoneRulesFingerprint);
  assert.equal(new Set(distinct).size, distinct.length, 'Detroit kept other rules than New York until 1975');
});

test('a calendar window\'s zone rules are part of the topology version; other windows have none', () => {
  const build = (zone: string | undefined) =>
    compilePlan(
      topology('zone-rules', (b) => {
        const s = b.source<{ id: string; at: number; v: number }>('s', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.id, eventTime: (x) => x.at });
        const g = s.groupBy('id', (x) => x.id);
        if (zone === undefined) g.tumbling('1d').aggregate('daily', (w) => ({ n: w.count() }));
        else g.calendar('day', zone).aggregate('daily', (w) => ({ n: w.count() }));
        return {};
      }),
      HERE,
    );
  const ny = build('America/New_York');
  const window = (ny.canonical as { windowOutputs: Array<{ window: Record<string, unknown> }> }).windowOutputs[0].window;
  assert.deepEqual(window, { kind: 'calendar', unit: 'day', timeZone: 'America/New_York', zoneRules: zoneRulesFingerprint('America/New_York') });
  assert.notEqual(build('America/Detroit').version, ny.version);
  assert.equal(build('US/Eastern').version === ny.version, false, 'the zone name stays part of the version');
  assert.equal('zoneRules' in (build(undefined).canonical as { windowOutputs: Array<{ window: Record<string, unknown> }> }).windowOutputs[0].window, false);
});
