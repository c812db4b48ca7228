/**
 * The README's Kafka backfill with `--since` / `--until`, run as written against the local
 * stack: generate with the README's seed and format, produce the three files (transactions,
 * chargebacks, the merchants' tier versions) with the README's commands (to this run's topics, via
 * the README's `--topic`), then the README's backfill command with the README's range. `produce`
 * stamps records with their event time (a tier version's with its validity time), so the range
 * selects the records whose event time falls in it; the expected count comes from the Avro files
 * themselves (decoded with avsc, split with kafkajs' own partitioner, cut where Kafka's time index
 * cuts: the first offset at or after each bound). A range that selects nothing warns on stderr
 * with the timestamps the records carry, and a Kafka backfill reports its total up front.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import kafkajs from 'kafkajs';
import { kafkaEndpoints } from '../../src/cli/kafka-endpoints.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardTopicArgs } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const dir = mkdtempSync(join(tmpdir(), 'skewless-time-range-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const run = randomUUID().slice(0, 8);
const topics = { transactions: `test-range-tx-${run}`, chargebacks: `test-range-cb-${run}`, merchant_tiers: `test-range-tiers-${run}` };
/** The engine sources (the ones --since cuts and the total counts): the transactions and the table of tier versions. */
type EngineSource = 'transactions' | 'merchant_tiers';
test.after(() => cleanUpKafka(stack.brokers, Object.values(topics)));

function skewless(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 180_000, env: stack.env, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The README's shell commands, continuation lines joined, `npx skewless` lines only. */
function readmeCommands(): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\\\n\s*/g, '');
  return [...text.matchAll(/^npx skewless (.*?)(?:\s+#.*)?$/gm)].map((m) => m[1]);
}

const flag = (command: string, name: string): string => {
  const m = new RegExp(`\\[?${name} (\\S+?)\\]?(?:\\s|$)`).exec(command);
  assert.ok(m, `${name} in: ${command}`);
  return m[1];
};

const commands = readmeCommands();
const generate = commands.find((c) => c.startsWith('generate card-transactions'))!;
const produceTx = commands.find((c) => c.startsWith('produce topologies/card-fraud.ts --source transactions'))!;
const produceCb = commands.find((c) => c.startsWith('produce topologies/card-fraud.ts --source chargebacks'))!;
const produceTiers = commands.find((c) => c.startsWith('produce topologies/card-fraud.ts --source merchant_tiers'))!;
const backfill = commands.find((c) => c.startsWith('backfill topologies/card-fraud.ts --from-kafka') && c.includes('--since'))!;
const since = flag(backfill, '--since');
const until = flag(backfill, '--until');
const partitions = Number(flag(produceTx, '--partitions'));

// The README's seed and format; fewer events than its 1,000,000 (the data spans the same
// months whatever the count: the generator spreads them from 2026-01-05 over about ten weeks).
const data = join(dir, 'cards');
const generated = skewless(['generate', 'card-transactions', '--events', '20000', '--seed', flag(generate, '--seed'), '--format', flag(generate, '--format'), '--out', data]);
assert.equal(generated.status, 0, generated.stderr);

/** Each engine source's file, its record key and its event (validity) time. */
const SOURCE_FIELDS: Readonly<Record<EngineSource, { file: string; key: string; time: string }>> = {
  transactions: { file: 'transactions.avro', key: 'card_id', time: 'event_time' },
  merchant_tiers: { file: 'merchant_tiers.avro', key: 'merchant_id', time: 'valid_from' },
};

/** Records per partition in file order, as (event time) lists: the split a keyed topic gets. */
async function partitionedEventTimes(source: EngineSource): Promise<number[][]> {
  const { file, key, time } = SOURCE_FIELDS[source];
  const partitioner = kafkajs.Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  const out: number[][] = Array.from({ length: partitions }, () => []);
  const decoder = avro.createFileDecoder(join(data, file));
  for await (const r of decoder as AsyncIterable<Record<string, string | number>>) {
    out[partitioner({ topic: topics[source], partitionMetadata, message: { key: Buffer.from(String(r[key])), value: null } })].push(Number(r[time]));
  }
  return out;
}

/** What Kafka's time index selects: per partition from the first record at or after `from` to the first at or after `to`. */
function selected(perPartition: number[][], from: number | undefined, to: number | undefined): number {
  const first = (ts: number[], bound: number | undefined): number => {
    if (bound === undefined) return ts.length;
    const i = ts.findIndex((t) => t >= bound);
    return i < 0 ? ts.length : i;
  };
  return perPartition.reduce((n, ts) => n + Math.max(0, first(ts, to) - (from === undefined ? 0 : first(ts, from))), 0);
}

/**
 * What a replay of [from, to) reads: the selected records of every engine source (a table's
 * versions are input records of their task too). A table is not cut by `from`: the versions in
 * force at the range's start were published before it.
 */
async function selectedRecords(from: number | undefined, to: number | undefined): Promise<Record<EngineSource, number>> {
  return {
    transactions: selected(await partitionedEventTimes('transactions'), from, to),
    merchant_tiers: selected(await partitionedEventTimes('merchant_tiers'), undefined, to),
  };
}

test('the README example: produce, then backfill --from-kafka --since/--until returns the records of the range', { timeout: 300_000 }, async () => {
  const swap = (command: string, source: 'transactions' | 'chargebacks' | 'merchant_tiers'): string[] =>
    command.replace(/--input \S+/, `--input ${join(data, `${source}.avro`)}`).split(/\s+/).concat(['--topic', topics[source]]);
  for (const [command, source] of [[produceTx, 'transactions'], [produceCb, 'chargebacks'], [produceTiers, 'merchant_tiers']] as const) {
    const p = skewless(swap(command, source));
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /record timestamps: event time for [\d,]+ records \(/, p.stdout);
    assert.doesNotMatch(p.stdout, /load time for/, 'a topic produce created takes every event time');
  }

  // As written: README's flags, plus this run's topics (the README's comment names --topic) and --json for reading the result.
  const args = backfill
    .replace(/--out \S+/, `--out ${join(dir, 'out')}`)
    .split(/\s+/)
    .concat(cardTopicArgs(topics));
  const b = skewless([...args, '--json']);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(b.stderr, '', 'no warning: the range selects records');
  const summary = JSON.parse(b.stdout) as { counters: { processed: number; lookupMisses: number }; warnings: string[] };
  const expected = await selectedRecords(Date.parse(since), Date.parse(until));
  assert.ok(expected.transactions > 1000, `the README range holds a good part of the data (${expected.transactions} of 20,000)`);
  const tiersInRange = selected(await partitionedEventTimes('merchant_tiers'), Date.parse(since), Date.parse(until));
  assert.ok(expected.merchant_tiers > tiersInRange && tiersInRange > 0, `the versions before the range are read too (${expected.merchant_tiers} against ${tiersInRange} inside it)`);
  assert.equal(summary.counters.processed, expected.transactions + expected.merchant_tiers);
  // Every merchant has a version from before the data start (the generator's rule, checked below),
  // so no lookup of the range misses: cut at --since, its first transactions would get null tiers.
  assert.equal(summary.counters.lookupMisses, 0);
  assert.deepEqual(summary.warnings, []);
});

test('a range that selects nothing warns with the timestamps the records carry', { timeout: 120_000 }, async () => {
  const b = skewless(['backfill', 'topologies/card-fraud.ts', '--from-kafka', '--out', join(dir, 'empty'), '--until', '2020-01-01', ...cardTopicArgs(topics)]);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /^processed 0 records/m);
  // One warning per engine topic the range empties: the table of tier versions, then the transactions (the plan's order).
  const lines = b.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 2, b.stderr);
  const tierVersions = (await partitionedEventTimes('merchant_tiers')).reduce((n, ts) => n + ts.length, 0);
  assert.match(lines[0], new RegExp(`^skewless: warning: --until 2020-01-01T00:00:00\\.000Z selects none of the ${tierVersions.toLocaleString('en-US')} records of topic "${topics.merchant_tiers}" \\(source merchant_tiers\\): `));
  // A merchant's first version is valid from 0 to 28 days before the data start (2026-01-05).
  const carried = /carry (\S+Z) to (\S+Z)/.exec(lines[0]);
  assert.ok(carried, lines[0]);
  const dataStart = Date.UTC(2026, 0, 5);
  for (const at of carried.slice(1).map((x) => Date.parse(x))) assert.ok(at >= dataStart - 28 * 86_400_000 && at <= dataStart, `${lines[0]}: first versions within 28 days before the data start`);
  assert.match(lines[1], new RegExp(`^skewless: warning: --until 2020-01-01T00:00:00\\.000Z selects none of the 20,000 records of topic "${topics.transactions}" \\(source transactions\\): `));
  // The first records of the partitions are from the first days of the data (2026-01-05 on).
  assert.match(lines[1], /carry 2026-01-0\d.* to 2026-01-\d\d/);

  // A --since past every event: the table is still read whole (only --until cuts it), so only the transactions warn.
  const late = skewless(['backfill', 'topologies/card-fraud.ts', '--from-kafka', '--out', join(dir, 'late'), '--since', '2030-01-01', ...cardTopicArgs(topics)]);
  assert.equal(late.status, 0, late.stderr);
  assert.match(late.stdout, new RegExp(`^processed ${tierVersions.toLocaleString('en-US')} records`, 'm'));
  const lateLines = late.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lateLines.length, 1, late.stderr);
  assert.match(lateLines[0], new RegExp(`^skewless: warning: --since 2030-01-01T00:00:00\\.000Z selects none of the 20,000 records of topic "${topics.transactions}"`));
});

test('a Kafka backfill reports its total before it starts: the offsets of the selected ranges', { timeout: 120_000 }, async () => {
  const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
  const totals: number[] = [];
  const from = Date.parse(since);
  const summary = await replayKafka({ plan, ...kafkaEndpoints({}, stack.env), topics, since: from, out: join(dir, 'total'), workers: 2, onTotal: (n) => totals.push(n) });
  const expected = await selectedRecords(from, undefined);
  assert.deepEqual(totals, [expected.transactions + expected.merchant_tiers]);
  assert.equal(summary.counters.processed, expected.transactions + expected.merchant_tiers);
});
