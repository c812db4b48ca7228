/**
 * The deploy path for a changed topology, on the local stack: a worker running the new version
 * refuses the state the old version wrote (saying what changed and how to go forward), and
 * `skewless bootstrap` of the new version into fresh state then works, ending at the topic's
 * end offsets with the new version recorded in every task checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';
import { readTaskCheckpoints } from '../helpers/task-checkpoints.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const run = randomUUID().slice(0, 8);
const T = { tx: `gate-tx-${run}`, cb: `gate-cb-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'skewless-gate-'));
test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(
    stack.brokers,
    [T.tx, T.cb, `features-v1-${run}`, `features-v2-${run}`, `daily-v1-${run}`, `daily-v2-${run}`, `gate-${run}-late`, `gate-${run}-dead-letters`],
    [`gate-v1-${run}`, `gate-v2-${run}`],
  );
});

function skewless(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.setEncoding('utf8');
    c.stderr.on('data', (s: string) => (stderr += s));
    c.on('exit', (code) => resolve({ code, stderr }));
  });
}

const topicFlags = (v: string): string[] => ['--topic', `transactions=${T.tx}`, '--topic', `chargebacks=${T.cb}`, '--output-topic', `card_features=features-${v}-${run}`, '--output-topic', `card_daily_spend=daily-${v}-${run}`, '--side-prefix', `gate-${run}`];

test('a changed topology refuses the old state, names the change, and bootstrap into new state works', { timeout: 180_000 }, async () => {
  const v1 = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
  // v2: the same topology with the 7-day max computed over 6 days, next to the original so its
  // relative imports and schema paths resolve the same way.
  const v2File = join(ROOT, 'topologies', `.card-fraud-v2-${run}.ts`);
  writeFileSync(v2File, readFileSync(join(ROOT, 'topologies/card-fraud.ts'), 'utf8').replace("amount_max_7d: card.lookback('7d')", "amount_max_7d: card.lookback('6d')"));
  test.after(() => rmSync(v2File, { force: true }));
  const v2 = await loadTopology(v2File);
  assert.notEqual(v2.version, v1.version);

  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 3000, seed: 17, format: 'ndjson' });
  const common = { plan: v1, partitions: 2, brokers: stack.brokers, registryUrl: stack.registryUrl };
  await produceFile({ ...common, source: 'transactions', input: data.transactionsPath, topic: T.tx });
  await produceFile({ ...common, source: 'chargebacks', input: data.chargebacksPath, topic: T.cb });

  const oldState = join(dir, 'state-v1');
  const boot1 = await skewless(['bootstrap', 'topologies/card-fraud.ts', '--state', oldState, '--group', `gate-v1-${run}`, '--no-run', ...topicFlags('v1').slice(0, 4)]);
  assert.equal(boot1.code, 0, boot1.stderr);

  // The new version on the old state: refused, with the change and both ways forward.
  const refused = await skewless(['run', v2File, '--state', oldState, '--group', `gate-v1-${run}`, ...topicFlags('v2')]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, new RegExp(`written by topology version ${v1.version}, this topology is ${v2.version}`));
  assert.match(refused.stderr, /changed: outputs\.card_features\.features\.amount_max_7d\.window: "7d" → "6d"/);
  assert.match(refused.stderr, /skewless bootstrap/);
  assert.match(refused.stderr, /shadow deploy/);
  for (const m of await readTaskCheckpoints(oldState)) assert.equal(m.version, v1.version, 'the old state is untouched');

  // Bootstrap of the new version into fresh state.
  const newState = join(dir, 'state-v2');
  const boot2 = await skewless(['bootstrap', v2File, '--state', newState, '--group', `gate-v2-${run}`, '--no-run', ...topicFlags('v2').slice(0, 4)]);
  assert.equal(boot2.code, 0, boot2.stderr);
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const ends = new Map((await fetchOffsets(conn, T.tx)).map((p) => [p.partition, p.high]));
  await conn.close();
  const m2 = await readTaskCheckpoints(newState);
  assert.equal(m2.length, 2);
  for (const m of m2) {
    assert.equal(m.version, v2.version);
    assert.equal(m.positions.transactions, ends.get(m.partition));
  }
});
