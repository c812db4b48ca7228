/**
 * Bootstrap end to end on the local stack: `skewless bootstrap --no-run` replays the history
 * of a topic into fresh state and sets the consumer group's offsets to the end of that
 * history; `skewless run` on the same state and group then starts at exactly the next
 * offsets. Its output topic must hold vectors for the new records only (none re-emitted for
 * the history) and each must equal, bit for bit, what a full replay of the whole topic
 * computes for that (partition, offset): the bootstrapped state is the replayed state.
 *
 * card-fraud merges a second input into each task, the merchant tiers (a table keyed by merchant,
 * regrouped), all produced before the history as a table loaded up front would be: the versions
 * valid after the history's last transaction stay in the merge, as live would hold them, so the
 * hand-over offsets are the checkpoints' positions, at or below the topic ends (not the ends),
 * and the regrouped merchant values of a row go out only once every partition's watermark has
 * passed t − 1 min: for the last rows, at the end of input after --idle-ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { buildProgram } from '../../src/engine/program.js';
import { featureRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { WireDecoder } from '../../src/io/avro/wire-decoder.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { commitGroupOffsets, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../../src/io/kafka/topic-reader.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { readCheckpoints } from '../../src/modes/bootstrap.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardTopicArgs, liveInternalTopics, merchantCoverage, produceCardInputs } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { exited, spawnSkewless, stopLeftoverWorkers, until, type Worker } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const PARTITIONS = 4;
const HISTORY = 8_000;
const NEW = 2_000;
const run = randomUUID().slice(0, 8);
const topics = {
  transactions: `boot-tx-${run}`,
  chargebacks: `boot-cb-${run}`,
  merchant_tiers: `boot-tiers-${run}`,
  features: `boot-features-${run}`,
  daily: `boot-daily-${run}`,
  side: `boot-${run}`,
};
const group = `boot-${run}`;
const dir = mkdtempSync(join(tmpdir(), 'skewless-bootstrap-'));
const state = join(dir, 'state');
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
const output = buildProgram(plan).outputs[0];
const sources = { transactions: topics.transactions, chargebacks: topics.chargebacks, merchant_tiers: topics.merchant_tiers };
const topicFlags = cardTopicArgs(sources);
const workers: Worker[] = [];

test.after(async () => {
  // A worker left running by a failed assertion would keep the group alive (not deletable).
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(
    stack.brokers,
    [...Object.values(sources), topics.features, topics.daily, `${topics.side}-late`, `${topics.side}-dead-letters`, ...liveInternalTopics(group, plan)],
    [group],
  );
});

function skewless(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function withKafka<T>(fn: (conn: KafkaConnection) => Promise<T>): Promise<T> {
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

type Offsets = Map<number, number>;
const topicEnds = (topic: string = topics.transactions): Promise<Offsets> => withKafka(async (c) => new Map((await fetchOffsets(c, topic)).map((p) => [p.partition, p.high])));
/** The group's committed offsets of a topic (a commit of nothing returns them). */
const groupOffsets = (topic: string = topics.transactions): Promise<Offsets> =>
  withKafka(async (c) => new Map((await commitGroupOffsets(c, group, topic, [])).previous.map((p) => [p.partition, p.offset])));
const total = (m: ReadonlyMap<number, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

test('bootstrap hands off to live at the exact next offsets; live vectors for new records equal a full replay', { timeout: 300_000 }, async (ctx) => {
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: HISTORY + NEW, seed: 11, format: 'ndjson' });
  const lines = readFileSync(data.transactionsPath, 'utf8').split('\n').filter((l) => l !== '');
  assert.equal(lines.length, HISTORY + NEW);
  const historyFile = join(dir, 'history.ndjson');
  const newFile = join(dir, 'new.ndjson');
  writeFileSync(historyFile, `${lines.slice(0, HISTORY).join('\n')}\n`);
  writeFileSync(newFile, `${lines.slice(HISTORY).join('\n')}\n`);
  const produce = (source: string, input: string, topic: string) =>
    produceFile({ plan, source, input, topic, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  // The tiers and chargebacks whole, up front; the transactions in two parts, around the bootstrap.
  const side = await produceCardInputs({ plan, data, topics: { merchant_tiers: topics.merchant_tiers, chargebacks: topics.chargebacks }, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  assert.equal(side.merchant_tiers?.produced, data.merchantTiers);
  await produce('transactions', historyFile, topics.transactions);

  // Bootstrap without running live.
  const boot = await skewless(['bootstrap', 'topologies/card-fraud.ts', '--state', state, '--group', group, ...topicFlags, '--no-run', '--json']);
  assert.equal(boot.code, 0, boot.stderr);
  const summary = JSON.parse(boot.stdout) as { version: string; group: string; out?: string; offsets: Array<{ topic: string; partition: number; offset: number }>; replay: { counters: { processed: number } } };
  assert.equal(summary.version, plan.version);
  assert.equal(summary.group, group);
  assert.equal(summary.out, undefined, 'training output was temporary');

  // The hand-over, per topic: each engine source's next offsets (chargebacks are labels, read by replays only).
  const handoff = new Map<string, Offsets>();
  for (const o of summary.offsets) handoff.set(o.topic, (handoff.get(o.topic) ?? new Map<number, number>()).set(o.partition, o.offset));
  assert.deepEqual([...handoff.keys()].sort(), [topics.merchant_tiers, topics.transactions].sort(), 'offsets handed over for the stream and the table');
  const historyEnds = await topicEnds();
  assert.equal(total(historyEnds), HISTORY);
  assert.equal(historyEnds.size, PARTITIONS);
  const tierEnds = await topicEnds(topics.merchant_tiers);
  assert.equal(total(tierEnds), data.merchantTiers);
  // The merge may hold records at the end of the history (a table's versions ahead of the
  // stream, or a partition's last transactions waiting for its tier input): what it holds stays
  // for run, so a hand-over offset is at or below the topic end, never beyond.
  const boundary = handoff.get(topics.transactions)!;
  const tierBoundary = handoff.get(topics.merchant_tiers)!;
  for (const [name, ends, at] of [['transactions', historyEnds, boundary], ['merchant_tiers', tierEnds, tierBoundary]] as const) {
    assert.equal(at.size, PARTITIONS, `${name}: an offset per partition`);
    for (const [p, end] of ends) assert.ok(at.get(p)! <= end, `${name} partition ${p}: hand-over ${at.get(p)} within the topic end ${end}`);
  }
  // All tier versions were produced before the history, weeks ahead of it: those valid after the
  // history stay in the merge, as live holds them. Applied, they would move stream time past the
  // new transactions and make them late (bootstrap-regrouped.test.ts).
  assert.ok(total(tierBoundary) < data.merchantTiers, `tier versions ahead of the history left for run (${data.merchantTiers - total(tierBoundary)} of ${data.merchantTiers})`);
  // Most of the history is applied: the merge holds only its tail, if anything.
  assert.ok(total(boundary) > HISTORY * 0.9, `history applied by the bootstrap (${total(boundary)} of ${HISTORY})`);
  assert.equal(summary.replay.counters.processed, total(boundary) + total(tierBoundary), 'processed = the transactions and tier versions handed over');
  ctx.diagnostic(`handed over: ${total(boundary)} of ${HISTORY} transactions, ${total(tierBoundary)} of ${data.merchantTiers} tier versions`);

  for (const [topic, at] of handoff) assert.deepEqual(await groupOffsets(topic), at, `${topic}: group offsets = reported hand-over offsets`);
  const metas = await readCheckpoints(state);
  assert.equal(metas.size, PARTITIONS);
  for (const [p, m] of metas) {
    assert.equal(m.version, plan.version);
    assert.equal(m.positions.transactions, boundary.get(p), `partition ${p}: checkpoint position = hand-over offset`);
    assert.equal(m.positions.merchant_tiers, tierBoundary.get(p), `partition ${p}: tier position = hand-over offset`);
    // The tier table is co-partitioned with the transactions: task p applies tier partition p.
    assert.equal(m.counters.processed, boundary.get(p)! + tierBoundary.get(p)!, `partition ${p}: every record before the hand-over applied once`);
  }

  // Refusals: a state dir with task state, and a group that already has offsets.
  const again = await skewless(['bootstrap', 'topologies/card-fraud.ts', '--state', state, '--group', group, ...topicFlags, '--no-run']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already holds task state.*skewless run/);
  const otherState = join(dir, 'state-2');
  const sameGroup = await skewless(['bootstrap', 'topologies/card-fraud.ts', '--state', otherState, '--group', group, ...topicFlags, '--no-run']);
  assert.notEqual(sameGroup.code, 0);
  assert.match(sameGroup.stderr, /consumer group ".*" already has committed offsets.*--force/);
  assert.equal(existsSync(otherState) ? readdirSync(otherState).length : 0, 0, 'refused before replaying anything');
  for (const [topic, at] of handoff) assert.deepEqual(await groupOffsets(topic), at, `${topic}: a refused bootstrap leaves the group alone`);

  // New records after the bootstrap, then live on the bootstrapped state and group.
  await produce('transactions', newFile, topics.transactions);
  const ends = await topicEnds();
  assert.equal(total(ends), HISTORY + NEW);
  // A full replay of the whole topic, restricted to the records the state had not applied: the
  // rows live must serve (known before waiting for them).
  const out = join(dir, 'replay');
  const full = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: sources, out, workers: 1 });
  assert.equal(full.counters.processed, HISTORY + NEW + data.merchantTiers, 'the replay applies every transaction and tier version');
  const replayed = new Map<string, Record<string, unknown>>();
  for (const f of readdirSync(join(out, 'card_features')).filter((x) => x.endsWith('.parquet'))) {
    const buf = readFileSync(join(out, 'card_features', f));
    for (const row of await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer })) {
      const offset = Number(row.offset);
      if (offset >= boundary.get(Number(row.partition))!) replayed.set(`${row.partition}/${offset}`, row);
    }
  }
  assert.ok(replayed.size > NEW * 0.9, `replay has vectors for most new records (${replayed.size})`);

  const args = ['run', 'topologies/card-fraud.ts', '--state', state, '--group', group, ...topicFlags];
  args.push('--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`, '--side-prefix', topics.side);
  // The last rows' merchant values wait for the idle rule: a shorter idle time than the default 5 s.
  args.push('--idle-ms', '2000');
  const worker = spawnSkewless(args, stack.env);
  workers.push(worker);
  await until('the live worker to commit the end of both inputs', [worker], async () => {
    const [tx, tiers] = [await groupOffsets(), await groupOffsets(topics.merchant_tiers)];
    return [...ends].every(([p, end]) => tx.get(p) === end) && [...tierEnds].every(([p, end]) => tiers.get(p) === end);
  }, 120_000, 1000);

  // Everything live produced, once a vector for every new row is out (the regrouped answers of the last rows come after --idle-ms).
  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const decoder = new WireDecoder(registry, featureRecordSchema(output.name, output.columns));
  const readLive = (): Promise<Array<Record<string, unknown>>> =>
    withKafka(async (conn) => {
      const values: Array<Record<string, unknown>> = [];
      const outOffsets = await fetchOffsets(conn, topics.features);
      for await (const b of readTopicRanges(conn, outOffsets.map((p) => ({ topic: topics.features, partition: p.partition, start: p.low, end: p.high })))) {
        const decoded = await decoder.decodeAll(b.records.map((r) => r.value));
        b.records.forEach((_, i) => {
          const v = decoded[i].value as Record<string, unknown> | undefined;
          assert.ok(v, `decodable live vector: ${decoded[i].error}`);
          values.push(v);
        });
      }
      return values;
    });
  await until(`a vector for each of the ${replayed.size} records after the hand-over`, [worker], async () => (await readLive()).length >= replayed.size, 60_000, 1000);
  worker.kill('SIGTERM');
  assert.equal(await exited(worker), 0, `worker exits cleanly on SIGTERM:\n${worker.log}`);

  const after = await readCheckpoints(state);
  for (const [p, m] of after) {
    assert.equal(m.positions.transactions, ends.get(p), `partition ${p}: checkpoint at the new end`);
    assert.equal(m.positions.merchant_tiers, tierEnds.get(p), `partition ${p}: every tier version applied`);
    assert.equal(m.counters.processed, ends.get(p)! + tierEnds.get(p)!, `partition ${p}: history + new records + tier versions, each applied once`);
  }

  const values = await readLive();
  const live = new Map<string, Record<string, unknown>>();
  for (const v of values) {
    const offset = Number(v.offset);
    assert.ok(offset >= boundary.get(v.partition as number)!, `live vector for history offset ${v.partition}/${offset}: live did not start at the next offset`);
    live.set(`${v.partition}/${offset}`, v);
  }
  assert.equal(values.length, live.size, 'no (partition, offset) served twice');
  assert.deepEqual([...live.keys()].sort(), [...replayed.keys()].sort(), 'live served exactly the new (partition, offset)s the replay computes vectors for');
  // The merchant columns compared below must hold real values, not nulls on both sides.
  const coverage = merchantCoverage(live.values());
  assert.ok(coverage.withTier > coverage.rows * 0.9 && coverage.withMerchantHistory > coverage.rows * 0.5, `merchant values in the live vectors: ${JSON.stringify(coverage)}`);
  const served = output.columns.filter((c) => c.role !== 'label');
  let compared = 0;
  for (const [id, value] of live) {
    const r = replayed.get(id)!;
    assert.equal(value.key, r.key, `${id} key`);
    assert.equal(value.event_time, (r.event_time as Date).getTime(), `${id} event_time`);
    for (const c of served) {
      const a = value[c.name];
      const b = typeof r[c.name] === 'bigint' ? Number(r[c.name]) : r[c.name];
      assert.ok(Object.is(a ?? null, b ?? null), `${id} ${c.name}: live ${String(a)} vs replay ${String(b)}`);
      compared++;
    }
  }
  assert.equal(compared, live.size * served.length);
  ctx.diagnostic(`${compared} values of ${live.size} vectors compared; merchant coverage ${JSON.stringify(coverage)}`);
});
