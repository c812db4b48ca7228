/**
 * The two things that make `skewless parity` bounded (src/modes/parity-replay.ts):
 * - a replay that computes only some keys (Task keyFilter) gives those keys exactly the rows
 *   and late decisions of a full replay, because the other keys' records still move stream time;
 * - a replay stopped at its canonical frontier (stopAtFrontier) and continued later over the
 *   longer history gives exactly the rows of one replay over the whole history, even with two
 *   inputs merged by event time in one task.
 * Expected rows come from a full replay from scratch: what is asserted is that bounding the
 * work changes no value (the full replay's own correctness is tested against SQL and Python
 * elsewhere). The dataset has late transactions and chargebacks reported days after the
 * transactions, so stream time moves differently per input and the merge holds records back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { replayInParallel } from '../../src/modes/replay-parallel.js';
import type { KeySelection } from '../../src/modes/replay-partitions.js';
import { KeySampler } from '../../src/parity/sampler.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { exact } from '../helpers/engine.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PARTITIONS = 3;
const dir = mkdtempSync(join(tmpdir(), 'skewless-frontier-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const plan = await loadTopology(join(ROOT, 'test/fixtures/two-streams.ts'));
const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 4000, seed: 5, format: 'ndjson' });

/** The first `share` of a file's lines, as the same topic would have held earlier. */
function prefix(file: string, share: number, name: string): string {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const path = join(dir, name);
  writeFileSync(path, `${lines.slice(0, Math.floor(lines.length * share)).join('\n')}\n`);
  return path;
}

let runs = 0;
async function replay(inputs: Record<string, string>, opts: { stateDir?: string; keys?: KeySelection; stopAtFrontier?: boolean; workers?: number } = {}): Promise<string> {
  const out = join(dir, `out-${runs++}`);
  await replayInParallel({
    plan,
    input: { kind: 'files', inputs, partitions: PARTITIONS, batchSize: 113 },
    partitions: PARTITIONS,
    out,
    droppedLateDir: join(out, '_dropped_late'),
    stateDir: opts.stateDir ?? join(dir, `state-${runs}`),
    workers: opts.workers ?? 1,
    keys: opts.keys,
    stopAtFrontier: opts.stopAtFrontier,
  });
  return out;
}

/** Every feature row of a replay by (output, partition, offset) → its key and exact values. */
async function rows(out: string): Promise<Map<string, string>> {
  const byId = new Map<string, string>();
  for (const output of ['card_features', 'chargeback_features']) {
    let files: string[] = [];
    try {
      files = readdirSync(join(out, output)).filter((f) => f.endsWith('.parquet'));
    } catch {
      continue;
    }
    for (const f of files) {
      const buf = readFileSync(join(out, output, f));
      const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
      for (const r of (await parquetReadObjects({ file })) as Record<string, unknown>[]) {
        const id = `${output}/${Number(r.partition)}@${Number(r.offset)}`;
        assert.ok(!byId.has(id), `one row per input record: ${id}`);
        const values = Object.keys(r).sort().filter((k) => k !== 'partition' && k !== 'offset').map((k) => `${k}=${exact(typeof r[k] === 'bigint' ? Number(r[k]) : r[k])}`);
        byId.set(id, values.join(','));
      }
    }
  }
  return byId;
}

/** Late records (dropped, as the fixture's sources declare) by (source, partition, offset), keyed, with the stream time that judged them. */
function late(out: string): Map<string, string> {
  const m = new Map<string, string>();
  let files: string[] = [];
  try {
    files = readdirSync(join(out, '_dropped_late'));
  } catch {
    return m;
  }
  for (const f of files) {
    for (const line of readFileSync(join(out, '_dropped_late', f), 'utf8').split('\n')) {
      if (line === '') continue;
      const l = JSON.parse(line) as { source: string; partition: number; offset: number; key: string; stream_time: number };
      m.set(`${l.source}/${l.partition}@${l.offset}`, `${l.key}|${l.stream_time}`);
    }
  }
  return m;
}

const full = { transactions: data.transactionsPath, chargebacks: data.chargebacksPath };
const fullOut = await replay(full);
const fullRows = await rows(fullOut);
const fullLate = late(fullOut);

test('the full replay has rows, late transactions and chargebacks long after the transactions', () => {
  assert.ok(fullRows.size > 3000, `${fullRows.size} rows`);
  assert.ok([...fullRows.keys()].some((id) => id.startsWith('chargeback_features/')), 'chargeback rows');
  assert.ok([...fullLate.keys()].length > 0, 'some late records');
});

test('a replay of some keys gives those keys exactly the rows and late decisions of a full replay', async () => {
  const sampler = new KeySampler(0.3);
  const keyOf = new Map<string, string>();
  for (const f of [data.transactionsPath, data.chargebacksPath]) {
    for (const line of readFileSync(f, 'utf8').split('\n')) if (line !== '') keyOf.set(line, (JSON.parse(line) as { card_id: string }).card_id);
  }
  const kept = new Set([...new Set(keyOf.values())].filter((k) => sampler.selects(k)));
  assert.ok(kept.size > 10 && kept.size < new Set(keyOf.values()).size, 'a proper subset of keys');

  for (const [keys, workers] of [[{ rate: 0.3 }, 1], [{ keys: [...kept].sort() }, 2]] as const) {
    const out = await replay(full, { keys, workers });
    const got = await rows(out);
    // Every row of the filtered replay is a full-replay row, bit for bit, and only kept keys have rows.
    for (const [id, v] of got) assert.equal(v, fullRows.get(id), id);
    assert.ok(got.size > 0 && got.size < fullRows.size, `${got.size} of ${fullRows.size} rows`);
    const gotLate = late(out);
    for (const [id, v] of fullLate) if (kept.has(v.split('|')[0])) assert.equal(gotLate.get(id), v, `late ${id}`);
  }
});

test('a replay stopped at its frontier and continued over the longer history equals one replay of it', async () => {
  const stateDir = join(dir, 'resumed-state');
  const early = { transactions: prefix(data.transactionsPath, 0.5, 'tx-half.ndjson'), chargebacks: prefix(data.chargebacksPath, 0.5, 'cb-half.ndjson') };
  const firstOut = await replay(early, { stateDir, stopAtFrontier: true });
  const first = await rows(firstOut);
  const secondOut = await replay(full, { stateDir });
  const second = await rows(secondOut);
  for (const id of first.keys()) assert.ok(!second.has(id), `${id} computed once`);
  const together = new Map([...first, ...second]);
  assert.equal(together.size, fullRows.size);
  for (const [id, v] of fullRows) assert.equal(together.get(id), v, id);
  const lateTogether = new Map([...late(firstOut), ...late(secondOut)]);
  assert.deepEqual([...lateTogether].sort(), [...fullLate].sort());
});
