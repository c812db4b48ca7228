/**
 * topologies/card-fraud.ts over generated transactions, against a brute-force computation:
 * its amount features are in one currency (amount_usd), so a card that pays in NGN or JPY abroad
 * does not reach millions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { generateCardTransactions } from '../../src/gen/card-transactions.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import cardFraud from '../../topologies/card-fraud.js';
import { assertClose, collectingSinks, rowsByName } from '../helpers/engine.js';

const FILE = fileURLToPath(new URL('../../topologies/card-fraud.ts', import.meta.url));
const HOUR = 3_600_000;
const GRACE = 30 * 60_000;

test('card-fraud amount features are sums and maxima of amount_usd (brute force over every row)', async () => {
  const { transactions } = generateCardTransactions({ events: 20_000, seed: 3 });
  assert.ok(transactions.some((t) => t.currency !== 'USD' && t.amount > 10 * t.amount_usd), 'the data has amounts in weak currencies');

  const program = buildProgram(compilePlan(cardFraud, FILE));
  const { sinks, out } = collectingSinks();
  const task = await Task.open(program, 0, new MemoryBackend(), sinks);
  await task.process({ source: 'transactions', partition: 0, records: transactions.map((value, offset) => ({ offset, value: { ...value } })) });
  for (const s of program.sources) await task.endOfInput(s.node.name);
  const rows = rowsByName(out.features, program.outputs[0].columns);

  // Brute force: arrival order is processing order; a record more than the grace behind the
  // largest event time so far is late and gets no row; a row covers the card's earlier on-time
  // records with event time in (t − W, t].
  const seen = new Map<string, Array<{ t: number; usd: number }>>();
  let streamTime = -Infinity;
  let r = 0;
  for (const x of transactions) {
    if (x.event_time < streamTime - GRACE) continue;
    streamTime = Math.max(streamTime, x.event_time);
    const earlier = seen.get(x.card_id) ?? [];
    const within = (w: number): number[] => earlier.filter((e) => e.t > x.event_time - w && e.t <= x.event_time).map((e) => e.usd);
    const day = within(24 * HOUR);
    const week = within(7 * 24 * HOUR);
    const row = rows[r++];
    assert.equal(row.key, x.card_id);
    assert.equal(row.amount_max_7d, week.length === 0 ? null : Math.max(...week), `amount_max_7d of ${x.txn_id}`);
    assertClose(row.amount_sum_24h, day.reduce((a, b) => a + b, 0), `amount_sum_24h of ${x.txn_id}`, 1e-9);
    earlier.push({ t: x.event_time, usd: x.amount_usd });
    seen.set(x.card_id, earlier);
  }
  assert.equal(r, rows.length, 'one row per on-time transaction');
  assert.equal(out.late.length, transactions.length - rows.length, 'the others went to the late records');
  const maxUsd = Math.max(...transactions.map((t) => t.amount_usd));
  assert.ok(rows.every((row) => row.amount_max_7d === null || (row.amount_max_7d as number) <= maxUsd), `amount_max_7d stays within ${maxUsd} USD`);
});
