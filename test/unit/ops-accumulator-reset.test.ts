/**
 * Accumulator.reset: a regrouped read (KeyTimeline.readAt) reuses one set of accumulators per
 * window instead of making a set per read, so a reset accumulator must be the one create()
 * makes, bit for bit: the same encoding, and the same results for whatever comes next. Only
 * aggregations with results no later call changes (numbers) may offer it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AggregationDef, AggValue } from '../../src/ops/aggregation.js';
import { countAgg } from '../../src/ops/aggregations/count.js';
import { countDistinctAgg } from '../../src/ops/aggregations/count-distinct.js';
import { extremeAgg } from '../../src/ops/aggregations/extreme.js';
import { momentsAgg } from '../../src/ops/aggregations/moments.js';
import { sumAgg } from '../../src/ops/aggregations/sum.js';
import { varianceAgg } from '../../src/ops/aggregations/variance.js';
import { aggregationFor } from '../../src/ops/aggregation-registry.js';
import type { AggNode } from '../../src/dsl/nodes.js';
import { ByteWriter } from '../../src/state/codec.js';

function encoded(acc: { encode(w: ByteWriter): void }): number[] {
  const w = new ByteWriter();
  acc.encode(w);
  return [...w.bytes()];
}

/** Values with repeats, a -0, nulls and large magnitudes (compensation matters for these). */
function values(seed: number, n: number, strings: boolean): AggValue[] {
  const out: AggValue[] = [];
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const k = x % 7;
    if (k === 0) out.push(null);
    else if (k === 1) out.push(-0);
    else if (strings && k === 2) out.push(`v${x % 5}`);
    else out.push(((x % 2000) - 1000) * (k === 3 ? 1e12 : 0.37));
  }
  return out;
}

const resettable: Array<[string, AggregationDef, boolean]> = [
  ['count()', countAgg(false), false],
  ['count(fn)', countAgg(true), false],
  ['sum', sumAgg('sum'), false],
  ['mean', sumAgg('mean'), false],
  ['stddev', varianceAgg('stddev', true), false],
  ['variance (population)', varianceAgg('variance', false), false],
  ['min', extremeAgg('min'), false],
  ['max', extremeAgg('max'), false],
  ['countDistinct', countDistinctAgg(), true],
  ['skewness', momentsAgg('skewness', true), false],
  ['kurtosis (population)', momentsAgg('kurtosis', false), false],
];

for (const [name, def, strings] of resettable) {
  test(`${name}: reset gives the accumulator create() makes`, () => {
    for (const sliding of [false, true]) {
      const make = () => (sliding && def.createSliding ? def.createSliding() : def.create());
      const used = make();
      const before = values(11, 400, strings);
      before.forEach((v, i) => used.add(v, 1000 + i, i));
      // Removals as a sliding window makes them: the oldest first.
      if (sliding) before.slice(0, 150).forEach((v, i) => used.remove(v, 1000 + i, i));
      else {
        const other = make();
        values(5, 50, strings).forEach((v, i) => other.add(v, 500 + i, 10_000 + i));
        used.merge(other);
      }
      assert.ok(used.reset, `${name} offers reset`);
      used.reset();
      const fresh = make();
      assert.deepEqual(encoded(used), encoded(fresh), `${name}${sliding ? ' (sliding)' : ''}: encoding after reset`);
      assert.ok(Object.is(used.result(), fresh.result()), `${name}: result after reset`);
      const after = values(23, 300, strings);
      after.forEach((v, i) => {
        used.add(v, 5000 + i, 1000 + i);
        fresh.add(v, 5000 + i, 1000 + i);
        assert.ok(Object.is(used.result(), fresh.result()), `${name}${sliding ? ' (sliding)' : ''}: result after ${i + 1} adds following the reset`);
      });
      assert.deepEqual(encoded(used), encoded(fresh));
    }
  });
}

test('only aggregations whose results are scalars offer reset', () => {
  const nodes: AggNode[] = [
    { kind: 'topK', params: { k: 3 } },
    { kind: 'lastK', params: { k: 3, type: 'double' } },
    { kind: 'quantiles', params: { qs: '0.5,0.9', exactUpTo: 100, relativeError: 0.01 } },
    { kind: 'histogram', params: { maxCategories: 10 } },
    { kind: 'countBy', params: { maxCategories: 10 } },
    { kind: 'mostFrequent', params: { k: 2 } },
  ] as unknown as AggNode[];
  for (const node of nodes) {
    const acc = aggregationFor(node).create();
    assert.equal(acc.reset, undefined, `${node.kind} returns a list or map: a reused accumulator could change a result already handed out`);
  }
});
