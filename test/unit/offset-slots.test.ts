/**
 * OffsetSlots behaves exactly as a Map from offset to value (checked against one) under the
 * patterns the row assembler makes: rows set in increasing offsets and deleted from the front,
 * answers set ahead in any order, far jumps, offsets below the ones held, and emptying out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OffsetSlots } from '../../src/engine/offset-slots.js';
import { Rng } from '../helpers/prng.js';

test('OffsetSlots equals a Map through every operation, with jumps beyond its span and offsets below its base', () => {
  for (const seed of [1, 2, 3]) {
    const rng = new Rng(seed);
    const slots = new OffsetSlots<number>();
    const model = new Map<number, number>();
    let next = 0;
    for (let step = 0; step < 60_000; step++) {
      const r = rng.int(0, 99);
      let offset: number;
      if (r < 2) offset = next + rng.int(70_000, 200_000); // far ahead: the Map part
      else if (r < 4) offset = Math.max(0, next - rng.int(70_000, 200_000)); // far behind
      else if (r < 50) offset = next++; // the next row
      else offset = Math.max(0, next + rng.int(-300, 3000)); // an answer around the rows
      if (rng.chance(0.35)) {
        // Deletes mostly from the oldest held (rows leave in order), sometimes anywhere.
        const held = [...model.keys()];
        const victim = held.length > 0 && rng.chance(0.8) ? Math.min(...held.slice(0, 50)) : offset;
        slots.delete(victim);
        model.delete(victim);
      } else {
        slots.set(offset, step);
        model.set(offset, step);
      }
      if (step % 97 === 0) for (const probe of [offset, offset + 1, offset - 1, next, next - 5]) assert.equal(slots.get(probe), model.get(probe), `offset ${probe} at step ${step}, seed ${seed}`);
    }
    for (const [k, v] of model) assert.equal(slots.get(k), v, `offset ${k} at the end, seed ${seed}`);
    for (const k of [...model.keys()]) slots.delete(k);
    for (const k of [...model.keys()].slice(0, 200)) assert.equal(slots.get(k), undefined);
  }
});

test('offsets set again below the oldest held one (after it left) are found, and the front is compacted as rows leave in order', () => {
  const slots = new OffsetSlots<number>();
  const model = new Map<number, number>();
  let oldest = 0;
  for (let i = 0; i < 50_000; i++) {
    slots.set(i, i);
    model.set(i, i);
    // Rows leave in order, a few behind the newest.
    while (oldest < i - 10) {
      slots.delete(oldest);
      model.delete(oldest);
      oldest++;
    }
    // An answer for a row that already left: just below the oldest held.
    if (i % 7 === 0 && oldest > 20) {
      const behind = oldest - 1 - (i % 13);
      slots.set(behind, -i);
      model.set(behind, -i);
      assert.equal(slots.get(behind), -i, `offset ${behind} set below the oldest held ${oldest}`);
      slots.delete(behind);
      model.delete(behind);
    }
  }
  for (const [k, v] of model) assert.equal(slots.get(k), v);
  assert.equal(slots.get(oldest - 1), undefined);
});
