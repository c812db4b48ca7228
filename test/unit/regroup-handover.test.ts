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

test('kept regrouped state under a small --cache-keys: pass 2 moves keys to the store before the hand-over, which holds what an unbounded one holds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-regroup-handover-bounded-'));
  try {
    const plan = await loadTopology(join(ROOT, 'topologies/flight-network.ts'));
    const program = buildProgram(plan);
    const airports = Array.from({ length: 6 }, (_, i) => `A${i}`);
    const rng = new Rng(9);
    const t0 = Date.UTC(2001, 0, 1);
    // Six origins: pass 1 never holds more than the bound of 6 keys. 3,000 destinations flown in
    // turn over 60,000 minutes, so that pass 2 reads each upstream in several chunks: a release
    // touches a few hundred of them, and the bound evicts the others.
    const origins = airports.slice(0, 6);
    const dests = Array.from({ length: 3000 }, (_, i) => `D${i}`);
    const flights = Array.from({ length: 60_000 }, (_, i) => ({ date: t0 + i * M, delay: rng.int(-20, 90), distance: 500, origin: rng.pick(origins), destination: dests[(Math.floor(i / 10) + rng.int(0, 3)) % dests.length] }));
    const file = join(dir, 'flights.ndjson');
    writeFileSync(file, `${flights.map((f) => JSON.stringify(f)).join('\n')}\n`);
    const replay = async (name: string, cacheKeys?: number): Promise<{ state: string; evictions: number }> => {
      const state = join(dir, `state-${name}`);
      const s = await replayInParallel({ plan, input: { kind: 'files', inputs: { flights: file }, partitions: PARTITIONS }, partitions: PARTITIONS, out: join(dir, `out-${name}`), stateDir: state, keepRegroupedState: true, stopAtFrontier: true, workers: 1, cacheKeys });
      return { state, evictions: s.stateCache?.evictions ?? 0 };
    };
    const { state: roomy } = await replay('roomy');
    const { state: bounded, evictions } = await replay('bounded', 6);
    assert.ok(evictions > 1000, `pass 2 moved regrouped keys out of memory before the hand-over (${evictions})`);

    // What live would do next with each: the end of every upstream, then a query of every
    // destination at times around the hand-over, answered from the kept state.
    const o = program.outputs.findIndex((x) => x.regroupQueries.length > 0);
    const end = flights[flights.length - 1].date;
    const answersOf = async (state: string, r: number): Promise<{ answers: string[] }> => {
      const backend = await LevelBackend.open(taskStateDir(state, r));
      try {
        const answers: string[] = [];
        const task = await RegroupedTask.open(program, r, PARTITIONS, backend, (a) => answers.push(`${a.offset}/${a.query}=${a.values.map((v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`));
        let offset = 0;
        const queries = dests.flatMap((key) =>
          [-90, -30, -5, 0, 30, 120].flatMap((dt) => program.outputs[o].regroupQueries.map((q) => ({ kind: 'query' as const, group: q.group, key, qt: end + dt * M, partition: r, source: 'flights', offset: offset++, output: o, query: q.index }))),
        );
        await task.receive([...queries, ...Array.from({ length: PARTITIONS }, (_, u) => ({ kind: 'watermark' as const, upstream: u, watermark: Infinity }))]);
        return { answers };
      } finally {
        await backend.close();
      }
    };
    for (let r = 0; r < PARTITIONS; r++) {
      const a = await answersOf(roomy, r);
      const b = await answersOf(bounded, r);
      assert.ok(a.answers.length > 0);
      assert.deepEqual(b.answers, a.answers, `regroup partition ${r}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
