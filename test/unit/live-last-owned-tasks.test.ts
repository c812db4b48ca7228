/**
 * The tasks a worker owned when it last stopped, kept in its state root (last-owned-tasks.ts):
 * read back as written, and a missing or damaged file reads as none (it is only a hint for the
 * group's leader: nothing is computed from it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLastOwnedTasks, writeLastOwnedTasks } from '../../src/modes/live/last-owned-tasks.js';

test('the last assignment is read back sorted and without repeats; a missing or damaged file reads as none', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'skewless-owned-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.deepEqual(readLastOwnedTasks(root), []);
  writeLastOwnedTasks(root, [5, 0, 3, 3]);
  assert.deepEqual(readLastOwnedTasks(root), [0, 3, 5]);
  writeLastOwnedTasks(root, []);
  assert.deepEqual(readLastOwnedTasks(root), []);
  writeLastOwnedTasks(root, [2]);
  assert.deepEqual(readLastOwnedTasks(root), [2]);
  assert.deepEqual(readdirSync(root), ['owned-tasks'], 'no temporary file left behind');
  for (const garbage of ['1,two,3', '-1', '1,,2', '{"tasks":[1]}']) {
    writeFileSync(join(root, 'owned-tasks'), garbage);
    assert.deepEqual(readLastOwnedTasks(root), [], garbage);
  }
});
