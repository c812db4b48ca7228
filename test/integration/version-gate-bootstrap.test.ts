/**
 * The deploy path for a changed topology, on the local stack: a worker running the new version
 * refuses the state the old version wrote (saying what changed and how to go forward), and
 * `skewless bootstrap` of the new version into fresh state then works, ending at the topic's
 * hand-over offsets with the new version recorded in every task checkpoint.
 *
 * card-fraud is regrouped (merchant features, a merchant tier table): the refusal must come at
 * once, from the origin tasks' version check, not after retries until the retry deadline.
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
import type { CompiledPlan } from '../../src/plan/compile.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardTopicArgs, liveInternalTopics, produceCardInputs } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';
import { readTaskCheckpoints } from '../helpers/task-checkpoints.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const run = randomUUID().slice(0, 8);
const T = { transactions: `gate-tx-${run}`, chargebacks: `gate-cb-${run}`, merchant_tiers: `gate-tiers-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'skewless-gate-'));
/** The plans whose internal topics `run` may have created under each group, known once loaded. */
const ran: Array<{ group: string; plan: CompiledPlan }> = [];
test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(
    stack.brokers,
    [
      ...Object.values(T),
      `features-v1-${run}`,
      `features-v2-${run}`,
      `daily-v1-${run}`,
      `daily-v2-${run}`,
      `gate-${run}-late`,
      `gate-${run}-dead-letters`,
      ...ran.flatMap(({ group, plan }) => liveInternalTopics(group, plan)),
    ],
    [`gate-v1-${run}`, `gate-v2-${run}`],
  );
});

/**
 * A refusal comes at once; a process still running after this is retrying (or hung) and is
 * killed, so the test fails on its exit instead of waiting for its own timeout.
 */
const EXIT_WITHIN_MS = 60_000;

function skewless(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const c = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8');
    c.stdout.on('data', (s: string) => (stdout += s));
    c.stderr.setEncoding('utf8');
    c.stderr.on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => c.kill('SIGKILL'), EXIT_WITHIN_MS);
    c.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const sourceFlags = cardTopicArgs(T);
const topicFlags = (v: string): string[] => [...sourceFlags, '--output-topic', `card_features=features-${v}-${run}`, '--output-topic', `card_daily_spend=daily-${v}-${run}`, '--side-prefix', `gate-${run}`];

test('a changed topology refuses the old state, names the change, and bootstrap into new state works', { timeout: 180_000 }, async (ctx) => {
  const v1 = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
  // v2: the same topology with the 7-day max computed over 6 days, next to the original so its
  // relative imports and schema paths resolve the same way.
  const v2File = join(ROOT, 'topologies', `.card-fraud-v2-${run}.ts`);
  writeFileSync(v2File, readFileSync(join(ROOT, 'topologies/card-fraud.ts'), 'utf8').replace("amount_max_7d: card.lookback('7d')", "amount_max_7d: card.lookback('6d')"));
  test.after(() => rmSync(v2File, { force: true }));
  const v2 = await loadTopology(v2File);
  assert.notEqual(v2.version, v1.version);
  ran.push({ group: `gate-v1-${run}`, plan: v1 }, { group: `gate-v1-${run}`, plan: v2 }, { group: `gate-v2-${run}`, plan: v2 });

  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 3000, seed: 17, format: 'ndjson' });
  // Every source, the tier table with the transactions' partition count (co-partitioned in each task's merge).
  await produceCardInputs({ plan: v1, data, topics: T, partitions: 2, brokers: stack.brokers, registryUrl: stack.registryUrl });

  const oldState = join(dir, 'state-v1');
  const boot1 = await skewless(['bootstrap', 'topologies/card-fraud.ts', '--state', oldState, '--group', `gate-v1-${run}`, '--no-run', ...sourceFlags]);
  assert.equal(boot1.code, 0, boot1.stderr);

  // The new version on the old state: refused, with the change and both ways forward.
  const refused = await skewless(['run', v2File, '--state', oldState, '--group', `gate-v1-${run}`, ...topicFlags('v2')]);
  assert.notEqual(refused.code, null, `refused at once, not killed after ${EXIT_WITHIN_MS} ms of retries:\n${refused.stderr}`);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, new RegExp(`written by topology version ${v1.version}, this topology is ${v2.version}`));
  assert.match(refused.stderr, /changed: outputs\.card_features\.features\.amount_max_7d\.window: "7d" → "6d"/);
  assert.match(refused.stderr, /skewless bootstrap/);
  assert.match(refused.stderr, /shadow deploy/);
  for (const m of await readTaskCheckpoints(oldState)) assert.equal(m.version, v1.version, 'the old state is untouched');
  ctx.diagnostic(`refused after ${refused.ms} ms`);

  // Bootstrap of the new version into fresh state.
  const newState = join(dir, 'state-v2');
  const boot2 = await skewless(['bootstrap', v2File, '--state', newState, '--group', `gate-v2-${run}`, '--no-run', '--json', ...sourceFlags]);
  assert.equal(boot2.code, 0, boot2.stderr);
  const summary = JSON.parse(boot2.stdout) as { version: string; offsets: Array<{ source: string; topic: string; partition: number; offset: number }> };
  assert.equal(summary.version, v2.version);
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const ends = new Map((await fetchOffsets(conn, T.transactions)).map((p) => [p.partition, p.high]));
  await conn.close();
  const handedOver = (p: number, source: string): number | undefined => summary.offsets.find((o) => o.source === source && o.partition === p)?.offset;
  const m2 = await readTaskCheckpoints(newState);
  assert.equal(m2.length, 2);
  for (const m of m2) {
    assert.equal(m.version, v2.version);
    // What the merge holds at the end (tier versions ahead of the transactions, or the last
    // transactions waiting for them) stays for run: the positions are the hand-over offsets, at or below the ends.
    for (const source of ['transactions', 'merchant_tiers']) assert.equal(m.positions[source], handedOver(m.partition, source), `task ${m.partition}: ${source} position = hand-over offset`);
    assert.ok(m.positions.transactions <= ends.get(m.partition)!, `task ${m.partition}: within the topic end`);
  }
  // The history is applied, bar the merge's tail: not an empty state with the new version stamped on it.
  const applied = m2.reduce((n, m) => n + m.positions.transactions, 0);
  assert.ok(applied > 3000 * 0.9, `transactions applied by the bootstrap: ${applied} of 3000`);
});
