/**
 * A worker's instance id is kept in its state root: the same at every start on that root, a
 * different one on another root, and a damaged file is replaced (the id only orders members).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workerInstanceId } from '../../src/modes/live/worker-instance.js';

test('the instance id survives restarts on one state root and differs between roots', (t) => {
  const a = mkdtempSync(join(tmpdir(), 'skewless-instance-a-'));
  const b = mkdtempSync(join(tmpdir(), 'skewless-instance-b-'));
  t.after(() => {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  });
  const first = workerInstanceId(a);
  assert.match(first, /^[0-9a-f-]{36}$/);
  assert.equal(workerInstanceId(a), first);
  assert.equal(readFileSync(join(a, 'worker-instance'), 'utf8').trim(), first);
  assert.notEqual(workerInstanceId(b), first);
  writeFileSync(join(a, 'worker-instance'), 'garbage');
  const replaced = workerInstanceId(a);
  assert.match(replaced, /^[0-9a-f-]{36}$/);
  assert.equal(workerInstanceId(a), replaced);
});
