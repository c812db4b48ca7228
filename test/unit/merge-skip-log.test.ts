import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MergeSkipLog, SUMMARY_MS, type MergeSkip } from '../../src/modes/live/merge-skip-log.js';

const T = Date.UTC(2025, 2, 1);
const skip = (partition: number, number: number, names: string[], released = 2): MergeSkip => ({
  partition,
  number,
  inputs: names.map((name) => ({ name, topic: `${name}-topic`, reached: 7, quiet: 5000 })),
  released,
  streamTimeBefore: T + number * 60_000,
  streamTimeAfter: T + (number + 1) * 60_000,
});

/** The skip numbers each line of a partition names, in order. */
function numbersOf(lines: readonly string[], partition: number): number[] {
  const out: number[] = [];
  for (const l of lines.filter((x) => x.startsWith(`skewless: task ${partition}: `))) {
    const range = /merge skips (\d+)–(\d+) \((\d+) skips\)/.exec(l);
    if (range) {
      assert.equal(Number(range[2]) - Number(range[1]) + 1, Number(range[3]), l);
      for (let n = Number(range[1]); n <= Number(range[2]); n++) out.push(n);
    } else out.push(Number(/merge skip (\d+):/.exec(l)![1]));
  }
  return out;
}

test('the first skip is logged in full; those after it within SUMMARY_MS are gathered into one numbered line; every skip reaches the log once', () => {
  let now = 0;
  const lines: string[] = [];
  const log = new MergeSkipLog((l) => lines.push(l), () => now);
  log.skipped(skip(3, 1, ['chargebacks']));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^skewless: task 3: merge skip 1: input chargebacks \(chargebacks-topic\) caught up at offset 7 and idle 5000 ms; released 2 held records; stream time 2025-03-01T00:01:00.000Z → 2025-03-01T00:02:00.000Z$/);
  for (let n = 2; n <= 5; n++) {
    now += 1000;
    log.skipped(skip(3, n, ['chargebacks'], n));
  }
  assert.equal(lines.length, 1, 'gathered, not written yet');
  now = SUMMARY_MS - 1;
  log.flush();
  assert.equal(lines.length, 1, 'not SUMMARY_MS since the full line');
  now = SUMMARY_MS;
  log.flush();
  assert.equal(lines.length, 2);
  assert.equal(lines[1], 'skewless: task 3: merge skips 2–5 (4 skips): input chargebacks still caught up and idle; released 14 held records; stream time 2025-03-01T00:02:00.000Z → 2025-03-01T00:06:00.000Z');
  // Another set of inputs: what was gathered first, then the new skip in full.
  log.skipped(skip(3, 6, ['chargebacks']));
  log.skipped(skip(3, 7, ['chargebacks', 'disputes']));
  assert.equal(lines.length, 4);
  assert.match(lines[2], /task 3: merge skip 6: input chargebacks still caught up and idle; released 2 held records/);
  assert.match(lines[3], /task 3: merge skip 7: inputs chargebacks \(chargebacks-topic\) caught up at offset 7 and idle 5000 ms, disputes \(disputes-topic\) caught up/);
  // Other partitions are logged on their own; a stop writes whatever is gathered.
  log.skipped(skip(4, 1, ['chargebacks']));
  log.skipped(skip(4, 2, ['chargebacks']));
  log.skipped(skip(3, 8, ['chargebacks', 'disputes']));
  now += SUMMARY_MS * 3;
  log.skipped(skip(3, 9, ['chargebacks', 'disputes']));
  log.skipped(skip(3, 10, ['chargebacks', 'disputes']));
  log.flush(true);
  log.flush(true);
  assert.deepEqual(numbersOf(lines, 3), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(numbersOf(lines, 4), [1, 2]);
  assert.ok(lines.some((l) => /task 3: merge skip 9: inputs chargebacks \(/.test(l)), 'SUMMARY_MS after the last line: in full again');
});
