/**
 * `skewless parity --since/--until` over a log whose samples all lie outside the range: the
 * error says where the samples are, instead of telling the user to start sampling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readParitySample } from '../../src/parity/parity-run.js';
import { loadTopology } from '../../src/plan/load-topology.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
/** A file sample reads no cluster: the endpoints are never used. */
const FILE_ONLY = { brokers: [] as string[], registryUrl: '' };
const JAN_5 = Date.UTC(2026, 0, 5, 10, 0, 0);
const JAN_9 = Date.UTC(2026, 0, 9, 18, 30, 0);

function vectorLine(offset: number, eventTime: number): string {
  return JSON.stringify({ topic: 'transactions', partition: 0, offset, event_time: eventTime, version: 'v1', key: 'card-1', output: 'card_features', values: JSON.stringify({ txn_count_1h: 1 }), kind: 'vector', merge_skips: 0 });
}

test('parity: samples outside --since/--until are reported with the event-time span the log holds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parity-range-'));
  try {
    const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
    const file = join(dir, 'log.ndjson');
    writeFileSync(file, `${vectorLine(3, JAN_9)}\n${vectorLine(1, JAN_5)}\n`);
    await assert.rejects(
      readParitySample({ ...FILE_ONLY, plan, sample: { file }, since: Date.UTC(2026, 2, 1) }),
      (e: unknown) =>
        e instanceof Error &&
        e.message.includes('its 2 vectors have event times from 2026-01-05T10:00:00.000Z to 2026-01-09T18:30:00.000Z') &&
        e.message.includes('widen --since / --until') &&
        !e.message.includes('run the live worker'),
    );
    // Inside the range the samples are read.
    const inRange = await readParitySample({ ...FILE_ONLY, plan, sample: { file }, since: Date.UTC(2026, 0, 6) });
    assert.equal(inRange.log.entries.length, 1);
    // An empty log still says to start sampling.
    const empty = join(dir, 'empty.ndjson');
    writeFileSync(empty, '');
    await assert.rejects(readParitySample({ ...FILE_ONLY, plan, sample: { file: empty } }), /run the live worker with --parity-rate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
