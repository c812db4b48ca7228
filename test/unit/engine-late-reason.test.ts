/**
 * A late record's reason names the grace as the topology wrote it ('30m'), not in milliseconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import { buildProgram } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { collectingSinks } from '../helpers/engine.js';

type Txn = { card_id: string; amount: number; event_time: number };
const T0 = Date.UTC(2026, 0, 5);

test("the late reason says 'grace 30m' for a topology that says grace: '30m'", async () => {
  const t = topology('late-reason', (b) => {
    const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, grace: '30m', late: 'sideOutput' });
    txns.features('f', { n: txns.groupBy('card', (x) => x.card_id).lookback('1h').count() });
    return {};
  });
  const { sinks, out } = collectingSinks();
  const task = await Task.open(buildProgram(compilePlan(t, fileURLToPath(import.meta.url))), 0, new MemoryBackend(), sinks);
  // Stream time T0 + 2h, then a record at T0: 2 h behind, more than 30 min.
  const rec = (offset: number, at: number) => ({ offset, value: { card_id: 'c', amount: 1, event_time: at } });
  await task.process({ source: 'txns', partition: 0, records: [rec(0, T0 + 7_200_000), rec(1, T0)] });
  await task.endOfInput('txns');
  assert.equal(out.late.length, 1);
  assert.match(out.late[0].reason, /^event time 2026-01-05T00:00:00\.000Z is more than the grace 30m behind stream time 2026-01-05T02:00:00\.000Z$/);
});
