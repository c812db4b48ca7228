/**
 * A bootstrap killed part way (kill -9) leaves its state root unfinished. For a regrouped
 * topology killed after its first pass, the origin tasks' stores hold their final checkpoints
 * and look bootstrapped, while the regrouped tasks' state (written at the end of pass 2) is
 * missing: `skewless run` on that root took it for a bootstrapped state ("local state is not in
 * changelog ... yet; publishing it with the first commit", every task ready at the end of the
 * history), so the next flights would have been served with destination features computed
 * without their history. The root now
 * carries a mark from the start of the replay until its state is complete, and `run`,
 * `bootstrap` and `deploy` refuse it with one line saying to remove it and bootstrap again.
 *
 * The same hole from the other side: `backfill --state` keeps the origin tasks' state only, and
 * `run` published it as well, every regrouped feature then answered from empty regrouped state.
 * A worker now refuses a replay's state of a regrouped topology without its regrouped part.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changelogTopic } from '../../src/modes/live/changelog.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { liveInternalTopics } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { exited, refusal, ROOT, spawnSkewless, stopLeftoverWorkers, topicEndOffsets, type Worker } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const TOPOLOGY = 'topologies/flight-network.ts';
const plan = await loadTopology(join(ROOT, TOPOLOGY));
const run = randomUUID().slice(0, 8);
const t = { flights: `killedboot-flights-${run}`, features: `killedboot-features-${run}`, side: `killedboot-${run}`, group: `killedboot-${run}`, backfillGroup: `killedboot-backfill-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'skewless-killed-bootstrap-'));
const state = join(dir, 'state');
/** The bootstrap's own temporary directory, where its regroup spill files show which pass it is in. */
const temp = join(dir, 'tmp');
const workers: Worker[] = [];

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [t.flights, t.features, `${t.side}-late`, `${t.side}-dead-letters`, ...liveInternalTopics(t.group, plan), ...liveInternalTopics(t.backfillGroup, plan)], [t.group, t.backfillGroup]);
});

const N = 200_000;
const T0 = Date.UTC(2024, 0, 1);

/** Answer files of the regroup spill: pass 2 has started, pass 1 (the origin tasks' state) is done. */
function inPass2(): boolean {
  for (const d of existsSync(temp) ? readdirSync(temp) : []) {
    if (!d.startsWith('skewless-regroup-')) continue;
    if (readdirSync(join(temp, d)).some((f) => f.startsWith('a-'))) return true;
  }
  return false;
}

async function refused(args: readonly string[]): Promise<string> {
  const { line, log } = await refusal(args, stack.env, workers, 'that did not finish');
  assert.match(line, new RegExp(`state dir ${state} holds the state of a bootstrap of flight-network \\(group ${t.group}, started .*Remove the directory and run \`skewless bootstrap\` again`));
  return log;
}

test('a bootstrap killed after its first pass leaves a state that run, bootstrap and deploy refuse, and nothing of it is served', { timeout: 300_000 }, async (ctx) => {
  const input = join(dir, 'flights.ndjson');
  writeFileSync(
    input,
    Array.from({ length: N }, (_, i) => `${JSON.stringify({ date: T0 + i * 20_000, delay: ((i * 37) % 90) - 20, distance: 100 + (i % 500), origin: `A${i % 300}`, destination: `D${(i * 7) % 400}` })}\n`).join(''),
  );
  await produceFile({ plan, source: 'flights', input, topic: t.flights, partitions: 4, brokers: stack.brokers, registryUrl: stack.registryUrl });

  mkdirSync(temp);
  const boot = spawnSkewless(['bootstrap', TOPOLOGY, '--state', state, '--group', t.group, '--topic', `flights=${t.flights}`, '--no-run'], { ...stack.env, TMPDIR: temp });
  workers.push(boot);
  const deadline = Date.now() + 120_000;
  while (!inPass2()) {
    assert.equal(boot.exitCode, null, `the bootstrap ended before its second pass:\n${boot.log}`);
    assert.ok(Date.now() < deadline, `no second pass after 120 s:\n${boot.log}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  boot.kill('SIGKILL');
  await exited(boot);
  const tasks = readdirSync(state).filter((d) => d.startsWith('task-'));
  assert.equal(tasks.length, 4, `the origin tasks' stores are there: ${tasks.join(', ')}`);
  ctx.diagnostic(`killed in pass 2; state root holds ${readdirSync(state).join(', ')}`);

  const log = await refused([
    'run', TOPOLOGY, '--state', state, '--group', t.group, '--topic', `flights=${t.flights}`, '--output-topic', `flight_features=${t.features}`, '--side-prefix', t.side,
  ]);
  assert.doesNotMatch(log, /publishing it with the first commit|task \d ready/);
  assert.equal(await topicEndOffsets(stack.brokers, changelogTopic(t.group, plan.version)), 0, 'the changelog holds nothing');
  assert.equal(await topicEndOffsets(stack.brokers, t.features), 0, 'no vector was served');

  // Bootstrap again on it: the same line, not the advice to continue from it with `run`.
  const again = await refused(['bootstrap', TOPOLOGY, '--state', state, '--group', t.group, '--topic', `flights=${t.flights}`, '--no-run']);
  assert.doesNotMatch(again, /To continue from it/);
  await refused(['deploy', TOPOLOGY, '--state', state, '--dry-run']);
  assert.ok(existsSync(join(state, tasks[0])), 'the state root is kept for the user to remove');
});

test('run refuses the state a backfill kept of a regrouped topology: it holds no regrouped state, and published it would answer as if the history were empty', { timeout: 180_000 }, async () => {
  // After the first test: the topic holds the flights.
  const kept = join(dir, 'backfill-state');
  const backfill = spawnSkewless(['backfill', TOPOLOGY, '--from-kafka', '--topic', `flights=${t.flights}`, '--out', join(dir, 'backfill-out'), '--state', kept], stack.env);
  workers.push(backfill);
  assert.equal(await exited(backfill), 0, backfill.log);
  assert.match(backfill.log, /note: .* holds the origin tasks' state only: flight-network regroups by another entity.*`skewless bootstrap` builds a state live continues from/);
  const { line, log } = await refusal(
    ['run', TOPOLOGY, '--state', kept, '--group', t.backfillGroup, '--topic', `flights=${t.flights}`, '--output-topic', `flight_features=${t.features}`, '--side-prefix', t.side],
    stack.env,
    workers,
    'holds no regrouped state',
  );
  assert.match(line, /state of task \d+ in .* holds no regrouped state, though flight-network regroups by another entity: it was written by a backfill.*Run `skewless bootstrap` into a new --state/);
  assert.doesNotMatch(log, /publishing it with the first commit/);
  assert.equal(await topicEndOffsets(stack.brokers, changelogTopic(t.backfillGroup, plan.version)), 0, 'the changelog holds nothing');
});
