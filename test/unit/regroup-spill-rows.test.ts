/**
 * Replay's spill of partial rows (src/modes/regroup-spill.ts): a row is two frames, its fields
 * and its event. Rows must read back exactly as written across the reader's 1 MiB buffer
 * refills, including when a row's event frame straddles a refill (the row frame read before
 * it must not be overwritten by the refill).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../src/engine/program.js';
import type { PartialRow } from '../../src/engine/regroup-messages.js';
import { OriginSpill, readPartialRow, rowFile } from '../../src/modes/regroup-spill.js';
import { SpillReader } from '../../src/modes/spill-file.js';
import { ByteReader } from '../../src/state/codec.js';
import { loadTopology } from '../../src/plan/load-topology.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('partial rows with their events read back exactly, across buffer refills', async () => {
  // card-fraud's derived feature reads the event, so its rows carry their events.
  const program = buildProgram(await loadTopology(join(ROOT, 'topologies/card-fraud.ts')));
  const output = program.outputs.find((o) => o.name === 'card_features')!;
  const dir = mkdtempSync(join(tmpdir(), 'skewless-spill-test-'));
  try {
    const spill = new OriginSpill(dir, program, 0, 1);
    const rows: PartialRow[] = [];
    // Events of varying size (a 0 to 300 character note), so frame boundaries fall everywhere in the buffer: ~25 MiB of rows.
    for (let i = 0; i < 60_000; i++) {
      const values = output.columns.map((_, c) => (c % 3 === 0 ? null : c % 3 === 1 ? i * 0.5 + c : `s${i}-${c}`));
      const row: PartialRow = { partition: 0, source: 'transactions', offset: i, output: output.index, key: `card-${i % 97}`, eventTime: 1_700_000_000_000 + i, values, event: { txn_id: `tx-${i}`, amount_usd: i / 7, note: 'x'.repeat((i * 7919) % 301) } };
      rows.push(row);
      spill.partialRow(row);
    }
    spill.close();
    const reader = new SpillReader(rowFile(dir, 0));
    const frames = new ByteReader(new Uint8Array(0));
    let i = 0;
    for (let row = readPartialRow(reader, frames); row !== undefined; row = readPartialRow(reader, frames), i++) {
      const want = rows[i];
      assert.equal(row.offset, want.offset, `row ${i}`);
      assert.equal(row.key, want.key, `row ${i}`);
      assert.equal(row.eventTime, want.eventTime, `row ${i}`);
      assert.deepEqual(row.values, want.values, `values of row ${i}`);
      assert.deepEqual(row.event, want.event, `event of row ${i}`);
    }
    reader.close();
    assert.equal(i, rows.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
