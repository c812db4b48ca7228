/** Shared helpers for driving a Task directly in tests: collecting sinks and exact comparisons. */
import assert from 'node:assert/strict';
import type { DeadLetter, FeatureRow, LateRecord, TaskSinks, WindowRowOut } from '../../src/engine/outputs.js';

export interface Collected {
  features: FeatureRow[];
  windows: WindowRowOut[];
  dead: DeadLetter[];
  late: LateRecord[];
}

/** Sinks that append everything to arrays. */
export function collectingSinks(): { sinks: TaskSinks; out: Collected } {
  const out: Collected = { features: [], windows: [], dead: [], late: [] };
  const sinks: TaskSinks = {
    feature: (r) => out.features.push({ ...r, values: [...r.values] }),
    window: (r) => out.windows.push(r),
    deadLetter: (d) => out.dead.push(d),
    late: (l) => out.late.push(l),
  };
  return { sinks, out };
}

/** Feature rows as plain objects keyed by column name, for readable assertions. */
export function rowsByName(rows: readonly FeatureRow[], columns: ReadonlyArray<{ name: string }>): Array<Record<string, unknown>> {
  return rows.map((r) => {
    const o: Record<string, unknown> = { offset: r.offset, key: r.key, eventTime: r.eventTime };
    columns.forEach((c, i) => (o[c.name] = r.values[i]));
    return o;
  });
}

/**
 * A value encoded so that two encodings are equal iff the values are identical bit for bit:
 * numbers by their IEEE-754 bytes (so -0 ≠ 0, and 0.1+0.2 ≠ 0.3), strings and null as such.
 */
export function exact(v: unknown): string {
  if (typeof v === 'number') {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return `f64:${b.toString('hex')}`;
  }
  if (v === null) return 'null';
  if (typeof v === 'string') return `s:${JSON.stringify(v)}`;
  return `${typeof v}:${JSON.stringify(v)}`;
}

/** A feature row reduced to what must be identical across runs (the event object is the input, not an output). */
export function featureSignature(r: FeatureRow): string {
  return [r.output, r.source, r.partition, r.offset, r.key, exact(r.eventTime), ...r.values.map(exact)].join('|');
}

export function lateSignature(l: LateRecord): string {
  return [l.source, l.partition, l.offset, exact(l.eventTime), exact(l.streamTime), l.reason].join('|');
}

export function deadSignature(d: DeadLetter): string {
  return [d.source, d.partition, d.offset, d.reason].join('|');
}

/** Assert two collections are identical row for row, bit for bit; reports the first difference. */
export function assertSameOutputs(actual: Collected, expected: Collected, what: string): void {
  const cmp = (a: string[], e: string[], kind: string): void => {
    const n = Math.min(a.length, e.length);
    for (let i = 0; i < n; i++) if (a[i] !== e[i]) assert.fail(`${what}: ${kind} #${i} differs\n  actual:   ${a[i]}\n  expected: ${e[i]}`);
    assert.equal(a.length, e.length, `${what}: ${kind} count differs`);
  };
  cmp(actual.features.map(featureSignature), expected.features.map(featureSignature), 'feature row');
  cmp(actual.late.map(lateSignature), expected.late.map(lateSignature), 'late record');
  cmp(actual.dead.map(deadSignature), expected.dead.map(deadSignature), 'dead letter');
  cmp(
    actual.windows.map((w) => JSON.stringify([w.output, w.partition, w.key, w.windowStart, w.windowEnd, w.values.map(exact), w.final])),
    expected.windows.map((w) => JSON.stringify([w.output, w.partition, w.key, w.windowStart, w.windowEnd, w.values.map(exact), w.final])),
    'window row',
  );
}

/** Compare floats that were computed by a different algorithm than the one under test. */
export function assertClose(actual: unknown, expected: number | null, what: string, relTol = 1e-12): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${String(actual)}`);
    return;
  }
  assert.equal(typeof actual, 'number', `${what}: expected a number close to ${expected}, got ${String(actual)}`);
  const a = actual as number;
  const tol = relTol * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(a - expected) <= tol, `${what}: ${a} is not within ${tol} of ${expected}`);
}
