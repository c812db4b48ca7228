/**
 * Version gating: a task refuses state written by another topology version and says what
 * changed and how to go forward.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology, type Duration } from '../../src/dsl/index.js';
import { buildProgram } from '../../src/engine/program.js';
import { Task, VersionMismatchError } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { diffPlans } from '../../src/plan/plan-diff.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { collectingSinks } from '../helpers/engine.js';

const HERE = fileURLToPath(import.meta.url);
type Txn = { card_id: string; merchant_id: string; amount: number; event_time: number };

const version = (window: Duration, extra: boolean) =>
  compilePlan(
    topology('gate', (t) => {
      const txns = t.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, maxFutureSkew: null });
      const card = txns.groupBy('card', (x) => x.card_id);
      txns.features('f', {
        amount_mean: card.lookback(window).mean((x) => x.amount),
        ...(extra ? { n: card.lookback('1h').count() } : {}),
      });
      return {};
    }),
    HERE,
  );

test('a task refuses state of another version, naming what changed and both ways forward', async () => {
  const backend = new MemoryBackend();
  const { sinks } = collectingSinks();
  const v1 = buildProgram(version('7d', false));
  const task = await Task.open(v1, 0, backend, sinks);
  await task.process({ source: 'txns', partition: 0, records: [{ offset: 0, value: { card_id: 'c', merchant_id: 'm', amount: 1, event_time: 1000 } }] });
  await task.checkpoint();

  // Same version: opens and resumes.
  assert.equal((await Task.open(v1, 0, backend, sinks)).resumePositions().txns, 1);

  const v2 = buildProgram(version('6d', true));
  await assert.rejects(
    () => Task.open(v2, 0, backend, sinks),
    (e: unknown) => {
      assert.ok(e instanceof VersionMismatchError);
      assert.equal(e.stored, v1.version);
      assert.equal(e.current, v2.version);
      // Hand-written expectations: the window of amount_mean went 7d → 6d, and n was added.
      assert.deepEqual(e.changes, ['outputs.f.features.amount_mean.window: "7d" → "6d"', 'outputs.f.features.n: added']);
      assert.match(e.message, /skewless bootstrap/);
      assert.match(e.message, /shadow deploy/);
      return true;
    },
  );
});

test('plan diff: named lists are matched by name, scalars show old → new', () => {
  assert.deepEqual(diffPlans({ a: 1, l: [['x', { w: '1h' }], ['y', 2]] }, { a: 2, l: [['y', 2], ['z', 3]] }), [
    'a: 1 → 2',
    'l.x: removed',
    'l.z: added',
  ]);
  assert.deepEqual(diffPlans({ s: [{ name: 'tx', schema: 'aa' }] }, { s: [{ name: 'tx', schema: 'bb' }] }), ['s.tx.schema: "aa" → "bb"']);
});
