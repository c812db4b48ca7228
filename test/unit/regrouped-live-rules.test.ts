/**
 * What live regrouping adds to a RegroupedTask and a row assembler:
 *  - the idle rule: an upstream that declared itself idle stops holding the others back only
 *    while it still is. One whose input grew since its idle mark is waited for again before its
 *    task has sent anything: otherwise rows would be answered without the events of a partition
 *    whose task is slow, dead or moving to another worker (the fault campaign over a regrouped
 *    topology found 717 such rows when pauses were longer than idleMs);
 *  - state entries per checkpoint, split well below Kafka's 1 MiB record limit (a whole batch
 *    in one entry was refused by the broker as a changelog record), restored whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import { buildProgram } from '../../src/engine/program.js';
import type { FeatureRow } from '../../src/engine/outputs.js';
import type { RegroupAnswer, RegroupMessage } from '../../src/engine/regroup-messages.js';
import { RegroupedTask } from '../../src/engine/regrouped-task.js';
import { DurableRowAssembler } from '../../src/engine/durable-row-assembler.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend } from '../../src/state/state-backend.js';

const M = 60_000;
const T = Date.UTC(2024, 0, 1);

const program = buildProgram(
  compilePlan(
    topology('idle-test', (t) => {
      const txns = t.source<{ card_id: string; merchant_id: string; event_time: number; amount: number }>('txns', {
        schema: '../../schemas/card_transaction.avsc',
        key: (x) => x.card_id,
        eventTime: (x) => x.event_time,
        grace: '10m',
        late: 'drop',
      });
      const merchant = txns.regroupBy('merchant', (x) => x.merchant_id);
      txns.features('f', { m_n_1h: merchant.lookback('1h', { asOf: '5m' }).count() });
      return {};
    }),
    fileURLToPath(import.meta.url),
  ),
);

const update = (t: number): RegroupMessage => ({ kind: 'update', group: 0, key: 'm1', t, vals: [null] });
const query = (qt: number, offset: number): RegroupMessage => ({ kind: 'query', group: 0, key: 'm1', qt, partition: 0, source: 'txns', offset, output: 0, query: 0 });
const watermark = (upstream: number, w: number): RegroupMessage => ({ kind: 'watermark', upstream, watermark: w });

async function scenario(stillIdle: boolean): Promise<{ task: RegroupedTask; answers: RegroupAnswer[]; asked: number[] }> {
  const answers: RegroupAnswer[] = [];
  const asked: number[] = [];
  const task = await RegroupedTask.open(program, 0, 2, new MemoryBackend(), (a) => answers.push(a));
  await task.receive([watermark(0, T), watermark(1, T)]);
  // Upstream 1 is caught up at offset 10 and quiet; upstream 0 goes on.
  await task.receive([{ kind: 'idle', upstream: 1, positions: [10] }, update(T + 10 * M), query(T + 20 * M, 7), watermark(0, T + 30 * M)], async (idle) => {
    asked.push(...idle.map((i) => i.upstream));
    assert.deepEqual(idle, [{ upstream: 1, positions: [10] }]);
    return idle.map(() => stillIdle);
  });
  return { task, answers, asked };
}

test('an upstream still idle (its input did not grow) does not hold the others back', async () => {
  const { task, answers, asked } = await scenario(true);
  assert.deepEqual(asked, [1]);
  assert.deepEqual(answers.map((a) => [a.offset, a.values, a.idleReleases]), [[7, [1], 1]], 'the answer says it came after an idle release (parity explains by it)');
  assert.equal(task.pending, 0);
  assert.equal(task.idleReleases, 1, 'counted: the release went past the idle upstream');
});

test('an idle upstream whose input grew is waited for again before it sends anything', async () => {
  const { task, answers } = await scenario(false);
  assert.equal(answers.length, 0, 'nothing released past its watermark');
  assert.equal(task.pending, 2);
  // Its task catches up: its watermark releases the query, with every event there.
  await task.receive([update(T + 12 * M), watermark(1, T + 40 * M)]);
  assert.deepEqual(answers.map((a) => [a.offset, a.values, a.idleReleases]), [[7, [2], 0]]);
  assert.equal(task.idleReleases, 0);
});

test('a checkpoint of many held messages is split into entries well below a Kafka record, and restores whole', async () => {
  const backend = new MemoryBackend();
  const task = await RegroupedTask.open(program, 0, 2, backend, () => undefined);
  await task.receive([watermark(0, T), watermark(1, T)]);
  const n = 40_000;
  await task.receive(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? update(T + 1 + i) : query(T + 1 + i, i))));
  const ops = task.changes();
  const puts = ops.filter((o) => o.type === 'put' && o.key.startsWith('r0/q/'));
  assert.ok(puts.length > 1, `${puts.length} entries`);
  for (const p of puts) assert.ok(p.type === 'put' && p.value.byteLength <= 256 * 1024 + 200, `${p.key}: ${p.type === 'put' ? p.value.byteLength : 0} bytes`);
  await backend.write(ops);
  const restored = await RegroupedTask.open(program, 0, 2, backend, () => undefined);
  assert.equal(restored.pending, n);
});

test('a checkpoint of many waiting rows is split the same way, and restores whole and in order, with the idle releases of their answers', async () => {
  const backend = new MemoryBackend();
  const emitted: number[] = [];
  const releases: number[] = [];
  const collect = (row: FeatureRow): void => {
    emitted.push(row.offset);
    releases.push(row.idleReleases ?? -1);
  };
  const a = await DurableRowAssembler.open(program, 0, backend, collect);
  const n = 20_000;
  for (let i = 0; i < n; i++) a.row({ partition: 0, source: 'txns', offset: i, output: 0, key: `card-${i}`, eventTime: T + i, values: [null], event: {} });
  // Answers for the second half only: those rows wait behind the first.
  for (let i = n / 2; i < n; i++) a.answer({ partition: 0, source: 'txns', offset: i, output: 0, query: 0, idleReleases: i % 3, values: [i] });
  const ops = a.changes();
  const puts = ops.filter((o) => o.type === 'put' && o.key !== 'a0/meta');
  assert.ok(puts.length > 2, `${puts.length} entries`);
  for (const p of puts) assert.ok(p.type === 'put' && p.value.byteLength <= 256 * 1024 + 200, `${p.key}: ${p.type === 'put' ? p.value.byteLength : 0} bytes`);
  await backend.write(ops);
  const b = await DurableRowAssembler.open(program, 0, backend, collect);
  assert.equal(b.pending, n);
  for (let i = 0; i < n / 2; i++) b.answer({ partition: 0, source: 'txns', offset: i, output: 0, query: 0, idleReleases: 0, values: [i] });
  assert.equal(b.pending, 0);
  assert.deepEqual(emitted, Array.from({ length: n }, (_, i) => i));
  assert.deepEqual(releases, Array.from({ length: n }, (_, i) => (i < n / 2 ? 0 : i % 3)));
});
