/**
 * As-of lookups in a table of versions (t.table + stream.asOf): expected values are worked out
 * by hand or by a brute-force loop over all versions in this file, never by the engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology, type Duration } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { LookupKeyError } from '../../src/engine/table-lookups.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend, type BatchOp } from '../../src/state/state-backend.js';
import { assertSameOutputs, collectingSinks, rowsByName, type Collected } from '../helpers/engine.js';
import { Rng } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const MIN = 60_000;
const H = 60 * MIN;
const T0 = Date.UTC(2025, 0, 1);
/** Clock time on the test day: at(10, 30) is 10:30. */
const at = (h: number, m = 0): number => T0 + h * H + m * MIN;

// Type aliases (not interfaces) so the values pass as records.
type Txn = { card: string; other: string; at: number };
type Limit = { card: string; from: number; limit: number; tier: string };

// The table is named so that it sorts after the stream: tables rank first in the merge by rule, not by name.
function program(opts: { retention?: Duration; lookupKey?: (x: Txn) => string; tableGrace?: Duration; tableSkew?: Duration | null } = {}): Program {
  const topo = topology('table-lookups', (t) => {
    const txns = t.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, grace: '10m', maxFutureSkew: null });
    const limits = t.table<Limit>('zlimits', {
      schema: '../../schemas/card_limit.avsc',
      key: (l) => l.card,
      validFrom: (l) => l.from,
      retention: opts.retention ?? '2h',
      grace: opts.tableGrace ?? '5m',
      late: 'sideOutput',
      maxFutureSkew: opts.tableSkew ?? null,
    });
    const card = txns.groupBy('card', (x) => x.card);
    const key = opts.lookupKey ?? ((x: Txn) => x.card);
    const features = txns.features('f', {
      n_1h: card.lookback('1h').count(),
      limit: txns.asOf(limits, key).value((l) => l.limit),
      tier: txns.asOf(limits, key).value((l) => l.tier, { type: 'string' }),
      limit_1h: txns.asOf(limits, key, { lag: '1h' }).value((l) => l.limit),
    });
    return { features };
  });
  return buildProgram(compilePlan(topo, HERE));
}

const txn = (card: string, t: number): Txn => ({ card, other: `o-${card}`, at: t });
const version = (card: string, from: number, limit: number, tier: string): Limit => ({ card, from, limit, tier });
const records = (values: readonly object[]): InputRecord[] => values.map((value, offset) => ({ offset, value: value as InputRecord['value'] }));

/** The hand-worked scenario: ties, lag, a late version, one within grace, a card without versions. */
const TXNS = [txn('c', at(9, 59)), txn('c', at(10)), txn('c', at(10, 30)), txn('d', at(10, 45)), txn('c', at(11)), txn('c', at(12, 14)), txn('c', at(12, 30)), txn('c', at(13, 13))];
const LIMITS = [
  version('c', at(10), 100, 'a'),
  version('c', at(11), 200, 'b'),
  version('c', at(11), 250, 'c'), // same validity time, later in the topic: wins
  version('c', at(12, 15), 300, 'd'),
  version('c', at(12, 5), 999, 'z'), // 9 min behind stream time 12:14 (the event's: versions do not move it), grace 5 min: late
  version('c', at(12, 11), 555, 'e'), // 4 min behind: accepted
];

async function runAll(prog: Program, txns: readonly Txn[], limits: readonly Limit[], backend = new MemoryBackend()): Promise<{ task: Task; out: Collected }> {
  const { sinks, out } = collectingSinks();
  const task = await Task.open(prog, 0, backend, sinks);
  await task.process({ source: 'txns', partition: 0, records: records(txns) });
  await task.process({ source: 'zlimits', partition: 0, records: records(limits) });
  await task.endOfInput('txns');
  await task.endOfInput('zlimits');
  return { task, out };
}

test('a lookup gives the version with the greatest validity time ≤ t (a version valid at exactly t included), ≤ t − lag with a lag, null and counted without one', async () => {
  const prog = program();
  const { task, out } = await runAll(prog, TXNS, LIMITS);
  const cols = prog.outputs[0].columns.map((c) => c.name);
  assert.deepEqual(cols, ['limit', 'limit_1h', 'n_1h', 'tier']);
  // Worked by hand: merge order 9:59e 10:00v 10:00e 10:30e 10:45e 11:00v 11:00v 11:00e 12:14e 12:15v 12:05v(late) 12:11v 12:30e 13:13e.
  const expected = [
    { offset: 0, key: 'c', eventTime: at(9, 59), limit: null, limit_1h: null, n_1h: 0, tier: null }, // nothing yet: 2 misses
    { offset: 1, key: 'c', eventTime: at(10), limit: 100, limit_1h: null, n_1h: 1, tier: 'a' }, // valid from exactly 10:00: seen; 9:00: miss
    { offset: 2, key: 'c', eventTime: at(10, 30), limit: 100, limit_1h: null, n_1h: 2, tier: 'a' }, // 9:30: miss
    { offset: 3, key: 'd', eventTime: at(10, 45), limit: null, limit_1h: null, n_1h: 0, tier: null }, // card d has no version: 2 misses
    { offset: 4, key: 'c', eventTime: at(11), limit: 250, limit_1h: 100, n_1h: 1, tier: 'c' }, // two versions at 11:00: the later one
    { offset: 5, key: 'c', eventTime: at(12, 14), limit: 250, limit_1h: 250, n_1h: 0, tier: 'c' }, // 11:14: the later 11:00 version
    { offset: 6, key: 'c', eventTime: at(12, 30), limit: 300, limit_1h: 250, n_1h: 1, tier: 'd' },
    { offset: 7, key: 'c', eventTime: at(13, 13), limit: 300, limit_1h: 555, n_1h: 2, tier: 'd' }, // 12:13 → the 12:11 version (within grace)
  ];
  assert.deepEqual(rowsByName(out.features, prog.outputs[0].columns), expected);
  assert.equal(task.counters.lookupMisses, 6);
  assert.deepEqual(out.late.map((l) => [l.source, l.offset]), [['zlimits', 4]], 'the version 10 min behind stream time is late (its own side output)');
  assert.equal(task.counters.late, 1);
  assert.equal(task.counters.filtered, 0, 'versions are not counted as filtered events');
});

test('a live skip of a quiet event input releases far-ahead versions without moving stream time: the next events are not late, and every row is the brute force\'s', async () => {
  // Versions days ahead, each within the table's future-skew bound of the one before, the last
  // three days ahead of the events: a reference table published ahead of its validity.
  const prog = program({ tableSkew: '1d' });
  const limits = [version('c', at(9), 100, 'a'), version('c', at(24 + 9), 200, 'b'), version('c', at(48 + 8), 300, 'c'), version('c', at(72 + 7), 400, 'd')];
  const txns = [txn('c', at(10)), txn('c', at(10, 30)), txn('c', at(10, 21)), txn('c', at(10, 40)), txn('c', at(34)), txn('c', at(80))];
  const { sinks, out } = collectingSinks();
  const task = await Task.open(prog, 0, new MemoryBackend(), sinks);
  await task.process({ source: 'txns', partition: 0, records: records(txns.slice(0, 2)) });
  await task.process({ source: 'zlimits', partition: 0, records: records(limits) });
  // The events are read to the end and quiet: the skip releases the three held versions.
  assert.ok((await task.skipIdleInput('txns')) > 0, 'the skip released the versions');
  assert.equal(task.currentStreamTime, at(10, 30), 'stream time is the events\', not the versions\'');
  await task.process({ source: 'txns', partition: 0, records: records(txns).slice(2) });
  await task.endOfInput('txns');
  await task.endOfInput('zlimits');
  assert.equal(task.counters.late, 0, out.late.map((l) => l.reason).join('\n'));
  assert.equal(task.counters.deadLetters, 0, out.dead.map((d) => d.reason).join('\n'));
  const got = rowsByName(out.features, prog.outputs[0].columns).map((r) => [r.offset, r.limit, r.limit_1h, r.n_1h, r.tier]);
  assert.deepEqual(got, expectedRows(txns, limits));

  // A version further ahead of the latest record than the bound is still a bad clock.
  const { sinks: sinks2, out: out2 } = collectingSinks();
  const other = await Task.open(prog, 0, new MemoryBackend(), sinks2);
  await other.process({ source: 'txns', partition: 0, records: records(txns.slice(0, 2)) });
  await other.process({ source: 'zlimits', partition: 0, records: records([limits[0], version('c', at(24 * 5), 500, 'x')]) });
  await other.skipIdleInput('txns');
  assert.deepEqual(out2.dead.map((d) => [d.source, d.offset]), [['zlimits', 1]]);
  assert.match(out2.dead[0].reason, /ahead of the latest record of the task .* beyond the source's maxFutureSkew 1d/);
});

test('retention drops versions an accepted event can no longer ask for, but keeps the latest at or before the horizon; the store holds one entry per version', async () => {
  const prog = program();
  const backend = new MemoryBackend();
  const { task } = await runAll(prog, TXNS, LIMITS, backend);
  await task.checkpoint();
  // Stream time 13:13, retention 2 h: horizon 11:13. Of the versions of c (10:00, 11:00, 11:00', 12:11, 12:15),
  // 10:00 and the first 11:00 go; the later 11:00 (the value from 11:13 on) stays with 12:11 and 12:15.
  const prefix = 'p0/v/zlimits/1:c/';
  const stored = [...backend.data.keys()].filter((k) => k.startsWith(prefix));
  assert.equal(stored.length, 3, stored.join(', '));
  assert.equal([...backend.data.keys()].filter((k) => k.startsWith('p0/v/zlimits/1:d/')).length, 0, 'a key without versions stores nothing');
  // An event after a long quiet time still sees the card's current value, dropped history or not.
  const { sinks, out } = collectingSinks();
  const reopened = await Task.open(prog, 0, backend, sinks);
  await reopened.process({ source: 'txns', partition: 0, records: [{ offset: 8, value: txn('c', at(20)) }] });
  await reopened.endOfInput('txns');
  await reopened.endOfInput('zlimits');
  assert.deepEqual(rowsByName(out.features, prog.outputs[0].columns).map((r) => [r.limit, r.limit_1h, r.tier]), [[300, 300, 'd']]);
});

test('a checkpoint writes the versions it added and deletes the ones dropped, never a key\'s whole history', async () => {
  const prog = program({ retention: '2h' });
  const writes: BatchOp[][] = [];
  const backend = new (class extends MemoryBackend {
    override async write(ops: readonly BatchOp[]): Promise<void> {
      writes.push([...ops]);
      await super.write(ops);
    }
  })();
  const task = await Task.open(prog, 0, backend, collectingSinks().sinks);
  const vs = Array.from({ length: 50 }, (_, i) => version('c', at(0, i), i, `t${i}`));
  await task.process({ source: 'zlimits', partition: 0, records: records(vs) });
  await task.process({ source: 'txns', partition: 0, records: [{ offset: 0, value: txn('c', at(0, 49)) }] });
  await task.checkpoint();
  const versionOps = (ops: BatchOp[]): BatchOp[] => ops.filter((o) => o.key.startsWith('p0/v/'));
  assert.equal(versionOps(writes[0]).filter((o) => o.type === 'put').length, 50);
  await task.process({ source: 'zlimits', partition: 0, records: records([version('c', at(2, 30), 50, 'x'), version('c', at(2, 40), 51, 'y')]).map((r) => ({ ...r, offset: r.offset + 50 })) });
  await task.process({ source: 'txns', partition: 0, records: [{ offset: 1, value: txn('c', at(2, 30)) }] });
  await task.checkpoint();
  // The merge releases the 2:30 version, then the event at 2:30 (stream time 2:30, horizon 0:30);
  // the 2:40 version waits for the next event. Versions 0:00 .. 0:29 go (30 deletions), one put for 2:30.
  const second = versionOps(writes[1]);
  assert.equal(second.filter((o) => o.type === 'put').length, 1);
  assert.equal(second.filter((o) => o.type === 'del').length, 30);
});

test('a lookup key that is not the event\'s partition key is a topology error naming the table, the keys and the position', async () => {
  const prog = program({ lookupKey: (x) => x.other });
  const task = await Task.open(prog, 0, new MemoryBackend(), collectingSinks().sinks);
  await assert.rejects(
    task.process({ source: 'txns', partition: 0, records: records([txn('c', at(10))]) }),
    (e: unknown) => e instanceof LookupKeyError && /table zlimits: key "o-c" is not the event's partition key "c" \(source txns, partition 0, offset 0\)/.test(e.message),
  );
});

test('the plan refuses a retention shorter than the lag plus the grace of the stream looking the table up', () => {
  assert.throws(() => program({ retention: '1h' }), /retention 1h of table zlimits is shorter than the lookup's lag 1h plus the grace 10m of source txns; raise it to at least 70m/);
});

/** Random versions and events of a few cards; versions in validity order, events behind by less than the grace. */
function randomInput(seed: number): { txns: Txn[]; limits: Limit[] } {
  const rng = new Rng(seed);
  const cards = ['a', 'b', 'c', 'd/e', '1:x'];
  const limits: Limit[] = [];
  let v = at(0);
  for (let i = 0; i < 300; i++) {
    v += rng.chance(0.2) ? 0 : rng.int(1, 40) * MIN; // equal validity times too
    limits.push(version(rng.pick(cards.slice(0, 4)), v, rng.int(1, 5000) / 4, `t${i}`)); // card 1:x never gets one
  }
  const txns: Txn[] = [];
  let t = at(0) - 30 * MIN;
  for (let i = 0; i < 1500; i++) {
    // Some events exactly at a validity time (the tie), some behind the clock within the grace.
    const next = limits.find((l) => l.from > t);
    t = next !== undefined && next.from <= t + 8 * MIN && rng.chance(0.3) ? next.from : t + rng.int(0, 8) * MIN;
    txns.push(txn(rng.pick(cards), t - (rng.chance(0.2) ? rng.int(1, 9) * MIN : 0)));
  }
  return { txns, limits };
}

/** Brute force: per event, the version of its card with the greatest validity ≤ qt (the last in the topic on a tie), and its 1 h count. */
function expectedRows(txns: readonly Txn[], limits: readonly Limit[]): Array<[number, number | null, number | null, number, string | null]> {
  const asOf = (card: string, qt: number): Limit | null => {
    let best: Limit | null = null;
    for (const l of limits) if (l.card === card && l.from <= qt && (best === null || l.from >= best.from)) best = l;
    return best;
  };
  return txns.map((x, i) => {
    let n = 0;
    for (let j = 0; j < i; j++) if (txns[j].card === x.card && txns[j].at > x.at - H && txns[j].at <= x.at) n++;
    const now = asOf(x.card, x.at);
    return [i, now?.limit ?? null, asOf(x.card, x.at - H)?.limit ?? null, n, now?.tier ?? null];
  });
}

/** Feed both inputs in random batches and interleavings; checkpoint, crash and reopen (from the store, or from the recorded operations) at random. */
async function chaoticRun(prog: Program, txns: readonly Txn[], limits: readonly Limit[], seed: number, crashes: boolean): Promise<Collected> {
  const rng = new Rng(seed);
  const inputs: Record<string, InputRecord[]> = { txns: records(txns), zlimits: records(limits) };
  const { sinks, out } = collectingSinks();
  const changelog: BatchOp[][] = [];
  let backend = new MemoryBackend();
  let task = await Task.open(prog, 0, backend, sinks);
  const sent: Record<string, number> = { txns: 0, zlimits: 0 };
  while (sent.txns < inputs.txns.length || sent.zlimits < inputs.zlimits.length) {
    const source = sent.txns >= inputs.txns.length ? 'zlimits' : sent.zlimits >= inputs.zlimits.length ? 'txns' : rng.pick(['txns', 'zlimits']);
    const n = rng.int(1, 60);
    await task.process({ source, partition: 0, records: inputs[source].slice(sent[source], sent[source] + n) });
    sent[source] = Math.min(inputs[source].length, sent[source] + n);
    if (crashes && rng.chance(0.2)) {
      const ops = task.changes();
      changelog.push(ops);
      await backend.write(ops);
      if (rng.chance(0.5)) {
        // A new host: the store rebuilt from the recorded operations alone.
        backend = new MemoryBackend();
        for (const batch of changelog) await backend.write(batch);
      }
      // The crash loses what the merge held; the driver resumes from the checkpointed positions.
      task = await Task.open(prog, 0, backend, sinks);
      Object.assign(sent, task.resumePositions());
    }
  }
  await task.endOfInput('txns');
  await task.endOfInput('zlimits');
  return out;
}

test('random versions and events: every row equals a brute force over all versions, whatever the batches, interleavings, crashes and changelog rebuilds', async () => {
  const prog = program({ retention: '3h', tableGrace: '0s' });
  for (const seed of [1, 2, 3]) {
    const { txns, limits } = randomInput(seed);
    const want = expectedRows(txns, limits);
    const reference = await chaoticRun(prog, txns, limits, seed * 100, false);
    const got = reference.features.map((r) => [r.offset, ...r.values]);
    assert.equal(got.length, txns.length, 'every event gets a row');
    assert.ok(want.some((w) => w[1] === null) && want.some((w) => w[2] !== null && w[2] !== w[1]), 'the data has misses and lags that matter');
    assert.deepEqual(got, want, `seed ${seed}`);
    for (let k = 1; k <= 4; k++) assertSameOutputs(await chaoticRun(prog, txns, limits, seed * 100 + k, true), reference, `seed ${seed}, run ${k}`);
  }
});
