/**
 * What a replay that keeps regrouped state (bootstrap) leaves in the state root, from files and
 * without Kafka: topologies/flight-network.ts over 3 partitions whose third has no flight. Every
 * task has a checkpoint (live publishes a store to the changelog only then); each regroup
 * partition holds the origins' real final watermarks, the updates still waiting for them and no
 * query; the input partition that sent nothing is idle at the start of its input rather than
 * holding back the whole history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../src/engine/program.js';
import { readRegroupMessage } from '../../src/engine/regroup-codec.js';
import { RegroupedTask } from '../../src/engine/regrouped-task.js';
import { kafkaPartition } from '../../src/io/partitioning.js';
import { readCheckpoints } from '../../src/modes/bootstrap.js';
import { replayInParallel } from '../../src/modes/replay-parallel.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { ByteReader } from '../../src/state/codec.js';
import { LevelBackend } from '../../src/state/state-backend.js';
import { taskStateDir } from '../../src/state/task-state-dir.js';
import { regroupHeldPrefix, regroupMetaKey } from '../../src/state/task-state-keys.js';
import { Rng } from '../helpers/prng.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PARTITIONS = 3;
const M = 60_000;

test('kept regrouped state: real final watermarks, waiting updates, no queries; an input partition without records is idle, not waited for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-regroup-handover-'));
  try {
    const plan = await loadTopology(join(ROOT, 'topologies/flight-network.ts'));
    // Origins of partitions 0 and 1 only; destinations of all three.
    const airports = Array.from({ length: 40 }, (_, i) => `A${i}`);
    const origins = airports.filter((a) => kafkaPartition(a, PARTITIONS) !== 2);
    assert.ok(origins.length < airports.length && new Set(origins.map((a) => kafkaPartition(a, PARTITIONS))).size === 2);
    const rng = new Rng(5);
    const t0 = Date.UTC(2001, 0, 1);
    const flights = Array.from({ length: 1500 }, (_, i) => ({ date: t0 + i * M, delay: rng.int(-20, 90), distance: 500, origin: rng.pick(origins), destination: rng.pick(airports) }));
    const file = join(dir, 'flights.ndjson');
    writeFileSync(file, `${flights.map((f) => JSON.stringify(f)).join('\n')}\n`);
    const state = join(dir, 'state');
    await replayInParallel({ plan, input: { kind: 'files', inputs: { flights: file }, partitions: PARTITIONS }, partitions: PARTITIONS, out: join(dir, 'out'), stateDir: state, keepRegroupedState: true, stopAtFrontier: true, workers: 1 });

    assert.deepEqual([...(await readCheckpoints(state)).keys()].sort(), [0, 1, 2], 'every task has a checkpoint, the one without input too');
    const program = buildProgram(plan);
    const end = flights[flights.length - 1].date;
    let held = 0;
    for (let r = 0; r < PARTITIONS; r++) {
      const backend = await LevelBackend.open(taskStateDir(state, r));
      try {
        const [bytes] = await backend.getMany([regroupMetaKey(r)]);
        const meta = JSON.parse(new TextDecoder().decode(bytes)) as { watermarks: string[]; idle: boolean[]; idlePositions: Array<number[] | null>; frontier: string };
        const watermarks = meta.watermarks.map(Number);
        assert.ok(watermarks.slice(0, 2).every((w) => Number.isFinite(w) && w > end - 2 * 60 * M), `regroup partition ${r}: the origins' real final watermarks (${meta.watermarks})`);
        assert.deepEqual([watermarks[2], meta.idle, meta.idlePositions[2]], [-Infinity, [false, false, true], [0]], `regroup partition ${r}: input partition 2 idle at its start`);
        assert.equal(Number(meta.frontier), Math.min(watermarks[0], watermarks[1]));
        const messages = (await backend.scan(regroupHeldPrefix(r))).flatMap(([, v]) => {
          const out = [];
          for (const reader = new ByteReader(v); !reader.done; ) out.push(readRegroupMessage(reader));
          return out;
        });
        assert.ok(messages.every((m) => m.kind === 'update' && m.t >= Number(meta.frontier)), `regroup partition ${r}: only updates at or past the frontier are held`);
        // Reopened as live opens it: the held updates come back.
        const task = await RegroupedTask.open(program, r, PARTITIONS, backend, () => assert.fail('nothing to answer'));
        assert.equal(task.pending, messages.length);
        held += messages.length;
      } finally {
        await backend.close();
      }
    }
    // The last hour (grace) of updates waits for the watermarks; the rest of the history was applied.
    assert.ok(held > 0 && held < 0.1 * flights.length, `held updates: ${held}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
