/**
 * Running live workers against the stack and checking what they served against the offline
 * replay: shared by the live-vs-replay test and the fault campaign (test/chaos/campaign.ts).
 *
 * The check is per (partition, offset) of the input: every vector a replay computes must have
 * been served exactly once live, with the same bytes (the live record's Avro bytes against the
 * replayed row encoded under the same schema id).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import type { OutputProgram } from '../../src/engine/program.js';
import { featureRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { WireDecoder } from '../../src/io/avro/wire-decoder.js';
import { WireEncoder } from '../../src/io/avro/wire-encoder.js';
import { readWireHeader } from '../../src/io/avro/wire-format.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { committedOffsets, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../../src/io/kafka/topic-reader.js';
import { produceFile } from '../../src/modes/produce-file.js';
import type { CompiledPlan } from '../../src/plan/compile.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'skewless.mjs');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A child process whose stderr is collected in `log` (and appended to a file when one is given). */
export type Worker = ChildProcess & { log: string };

/** `node bin/skewless.mjs <args>` from the repository root, stdout ignored, stderr collected. */
export function spawnSkewless(args: readonly string[], env: NodeJS.ProcessEnv, logFile?: string): Worker {
  const w = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] }) as Worker;
  w.log = '';
  w.stderr!.setEncoding('utf8');
  w.stderr!.on('data', (s: string) => {
    w.log += s;
    if (logFile !== undefined) appendFileSync(logFile, s);
  });
  return w;
}

/**
 * Run `skewless <args>` where it must refuse to go on: it exits with a non-zero code (one still
 * running after `deadlineMs`, retrying or serving, is killed and fails the test), and its log
 * holds exactly one line containing `marker`. Returns that line, the whole log and how long it ran.
 */
export async function refusal(args: readonly string[], env: NodeJS.ProcessEnv, workers: Worker[], marker: string, deadlineMs = 60_000): Promise<{ line: string; log: string; ms: number }> {
  const started = Date.now();
  const w = spawnSkewless(args, env);
  workers.push(w);
  const timer = setTimeout(() => w.kill('SIGKILL'), deadlineMs);
  const code = await exited(w);
  clearTimeout(timer);
  const ms = Date.now() - started;
  assert.notEqual(code, null, `still running (retrying or serving) after ${deadlineMs / 1000} s:\n${w.log}`);
  assert.notEqual(code, 0, w.log);
  const lines = w.log.split('\n').filter((l) => l.includes(marker));
  assert.equal(lines.length, 1, w.log);
  return { line: lines[0], log: w.log, ms };
}

/** Resolves with the exit code (null after a signal) once the process has exited. */
export const exited = (c: ChildProcess): Promise<number | null> =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve(c.exitCode) : new Promise((r) => c.once('exit', (code) => r(code)));

/**
 * Poll `done` until it holds. Fails at once with the logs when one of `ws` has exited (a refusal
 * at start would otherwise look like a hang), and with them after `timeoutMs`.
 */
export async function until(what: string, ws: readonly Worker[], done: () => Promise<boolean> | boolean, timeoutMs = 60_000, pollMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const logs = (): string => ws.map((w) => w.log).join('\n---\n');
  while (!(await done())) {
    for (const w of ws) if (w.exitCode !== null || w.signalCode !== null) throw new Error(`waiting for ${what}: a worker exited (${w.exitCode ?? w.signalCode}):\n${logs()}`);
    if (Date.now() > deadline) throw new Error(`waiting for ${what}: not done after ${timeoutMs} ms:\n${logs()}`);
    await sleep(pollMs);
  }
}

/** Wait until `group` has committed every offset `topic` holds now, while `ws` run. */
export async function inputCommitted(brokers: readonly string[], group: string, topic: string, ws: readonly Worker[]): Promise<void> {
  const conn = await KafkaConnection.open({ brokers });
  try {
    const ends = (await fetchOffsets(conn, topic)).map((o) => [o.partition, o.high] as const);
    await until(`the committed input offsets to reach the end of ${topic}`, ws, async () => {
      const committed = new Map((await committedOffsets(conn, group, topic)).map((p) => [p.partition, p.offset]));
      return ends.every(([p, end]) => (committed.get(p) ?? 0) >= end);
    }, 90_000, 500);
  } finally {
    await conn.close();
  }
}

/** A test's `after`: kill the workers still running and wait until all have exited. */
export async function stopLeftoverWorkers(workers: readonly Worker[]): Promise<void> {
  const running = workers.filter((w) => w.exitCode === null && w.signalCode === null);
  for (const w of running) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => exited(w)));
  // A killed member stays in the group until its session times out, and a group with members cannot be deleted.
  if (running.length > 0) await sleep(7000);
}

/** Sum of the partitions' high watermarks (0 while the topic does not exist). */
export async function topicEndOffsets(brokers: readonly string[], topic: string): Promise<number> {
  const conn = await KafkaConnection.open({ brokers });
  try {
    return (await fetchOffsets(conn, topic).catch(() => [])).reduce((n, p) => n + p.high, 0);
  } finally {
    await conn.close();
  }
}

/** Wait until `topic` exists (a worker needs its source topic before it starts). */
export async function waitForTopic(brokers: readonly string[], topic: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const conn = await KafkaConnection.open({ brokers });
    const ok = await fetchOffsets(conn, topic).then(() => true, () => false);
    await conn.close();
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`topic ${topic} does not exist after ${timeoutMs} ms`);
    await sleep(200);
  }
}

export interface SlicedProduce {
  readonly plan: CompiledPlan;
  readonly source: string;
  /** NDJSON file, in arrival order. */
  readonly input: string;
  readonly topic: string;
  readonly partitions: number;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  /** Where the slice files go. */
  readonly dir: string;
  readonly slices: number;
  /** Pause after each slice. */
  readonly pauseMs: number;
  readonly batchSize?: number;
  /** Runs each slice's produce (e.g. under a lock, or with retries). */
  readonly around?: (produce: () => Promise<void>) => Promise<void>;
  /** After each slice: records produced so far, and of how many. */
  readonly onSlice?: (produced: number, total: number) => void;
}

/** Produce a file in slices with pauses, so workers consume while the producer is still writing. Resolves to the records produced. */
export async function produceInSlices(o: SlicedProduce): Promise<number> {
  const lines = readFileSync(o.input, 'utf8').split('\n').filter((l) => l !== '');
  let produced = 0;
  for (let i = 0; i < o.slices; i++) {
    const part = join(o.dir, `${o.source}-${i}.ndjson`);
    writeFileSync(part, `${lines.slice(Math.floor((i * lines.length) / o.slices), Math.floor(((i + 1) * lines.length) / o.slices)).join('\n')}\n`);
    const produce = async (): Promise<void> => {
      const s = await produceFile({ plan: o.plan, source: o.source, input: part, topic: o.topic, partitions: o.partitions, brokers: o.brokers, registryUrl: o.registryUrl, batchSize: o.batchSize ?? 500 });
      produced += s.produced;
    };
    await (o.around ? o.around(produce) : produce());
    o.onSlice?.(produced, lines.length);
    if (i < o.slices - 1) await sleep(o.pauseMs);
  }
  return produced;
}

/** One record of a live feature topic (read with read_committed). */
export interface LiveVector {
  /** The Kafka partition the record is in. */
  readonly partition: number;
  /** `<input partition>/<input offset>` from the record's value. */
  readonly id: string;
  readonly bytes: Buffer;
  /** Decoded value, undefined when it could not be decoded. */
  readonly value: Record<string, unknown> | undefined;
  readonly error?: string;
}

/** Every committed record of a feature output topic, decoded through the registry. */
export async function readLiveVectors(brokers: readonly string[], registryUrl: string, output: OutputProgram, topic: string): Promise<LiveVector[]> {
  const records = await readDecodedTopic(brokers, registryUrl, featureRecordSchema(output.name, output.columns), topic);
  return records.map((r) => ({ ...r, id: r.value ? `${r.value.partition}/${r.value.offset}` : `undecodable@${r.partition}/${r.offset}` }));
}

/** A record of a topic read by readDecodedTopic: where it is, its value bytes and their decoding. */
export interface DecodedRecord {
  readonly partition: number;
  readonly offset: number;
  readonly bytes: Buffer;
  readonly value: Record<string, unknown> | undefined;
  readonly error: string | undefined;
}

/** Every record of a topic (read_committed), its value decoded through the registry with `schema` as the reader schema. */
export async function readDecodedTopic(brokers: readonly string[], registryUrl: string, schema: object, topic: string): Promise<DecodedRecord[]> {
  const registry = await SchemaRegistryClient.open(registryUrl);
  const decoder = new WireDecoder(registry, schema);
  const conn = await KafkaConnection.open({ brokers });
  try {
    const out: DecodedRecord[] = [];
    const ranges = (await fetchOffsets(conn, topic)).map((p) => ({ topic, partition: p.partition, start: p.low, end: p.high }));
    for await (const b of readTopicRanges(conn, ranges)) {
      const decoded = await decoder.decodeAll(b.records.map((r) => r.value));
      b.records.forEach((r, i) => {
        out.push({ partition: b.partition, offset: Number(r.offset), bytes: r.value ?? Buffer.alloc(0), value: decoded[i].value as Record<string, unknown> | undefined, error: decoded[i].error });
      });
    }
    return out;
  } finally {
    await conn.close();
  }
}

/** The rows of one output of a replay (`<out>/<output>/*.parquet`) by `<partition>/<offset>`. */
export async function readReplayVectors(out: string, outputName: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = new Map<string, Record<string, unknown>>();
  for (const f of readdirSync(join(out, outputName)).filter((x) => x.endsWith('.parquet')).sort()) {
    const buf = readFileSync(join(out, outputName, f));
    for (const row of await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer })) {
      rows.set(`${row.partition}/${Number(row.offset)}`, row);
    }
  }
  return rows;
}

export interface VectorComparison {
  /** Vectors the replay computes. */
  readonly expected: number;
  /** Records in the live topic, and distinct (partition, offset) among them. */
  readonly liveRecords: number;
  readonly liveDistinct: number;
  /** Replayed vectors never served live. */
  readonly lost: number;
  /** Inputs served more than once, and the surplus records. */
  readonly duplicates: number;
  readonly duplicateRecords: number;
  /** Inputs whose live copies are not all byte-identical among themselves. */
  readonly duplicatesDiffering: number;
  /** Inputs with a live copy whose bytes differ from the replayed vector (or undecodable). */
  readonly divergent: number;
  /** Live vectors for inputs the replay gives no vector for. */
  readonly unexpected: number;
  /** Live vectors in another Kafka partition than their input's. */
  readonly misplaced: number;
  /** Values compared (served columns × inputs both sides have). */
  readonly valuesCompared: number;
  /** A few divergences, named by input and column. */
  readonly examples: string[];
}

/** A replayed Parquet value as the live record's Avro encoding takes it. */
export const plainValue = (v: unknown): unknown => {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  // A map column (hyparquet reads its int64 values as bigints).
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainValue(x)]));
  return v ?? null;
};

/** Served records by their id, copies in the order they were read. */
export function copiesById<T extends { readonly id: string }>(live: readonly T[]): Map<string, T[]> {
  const byId = new Map<string, T[]>();
  for (const r of live) {
    const copies = byId.get(r.id);
    if (copies) copies.push(r);
    else byId.set(r.id, [r]);
  }
  return byId;
}

/**
 * The bytes a record would be served as, framed with the schema id of the served copy it is
 * compared with (undefined when that copy has no readable header); one encoder per schema id.
 */
export function expectedWireBytes(schema: object): (served: Buffer, record: Record<string, unknown>) => Buffer | undefined {
  const encoders = new Map<number, WireEncoder>();
  return (served, record) => {
    const header = readWireHeader(served);
    if ('error' in header) return undefined;
    let enc = encoders.get(header.schemaId);
    if (!enc) encoders.set(header.schemaId, (enc = new WireEncoder(schema, header.schemaId)));
    return enc.encode(record).bytes;
  };
}

/** Compare live records with replayed rows per (partition, offset) of the input. */
export function compareVectors(live: readonly LiveVector[], replayed: ReadonlyMap<string, Record<string, unknown>>, output: OutputProgram): VectorComparison {
  const served = output.columns.filter((c) => c.role !== 'label');
  const expectedBytesOf = expectedWireBytes(featureRecordSchema(output.name, output.columns));
  const byId = copiesById(live);
  let misplaced = 0;
  for (const v of live) if (v.value && v.value.partition !== v.partition) misplaced++;
  const examples: string[] = [];
  const note = (s: string): void => void (examples.length < 10 && examples.push(s));
  const n = { lost: 0, duplicates: 0, duplicateRecords: 0, duplicatesDiffering: 0, divergent: 0, unexpected: 0, valuesCompared: 0 };
  for (const copies of byId.values()) {
    if (copies.length > 1) {
      n.duplicates++;
      n.duplicateRecords += copies.length - 1;
      if (copies.some((c) => !c.bytes.equals(copies[0].bytes))) n.duplicatesDiffering++;
    }
  }
  for (const [id, row] of replayed) {
    const copies = byId.get(id);
    if (!copies) {
      n.lost++;
      continue;
    }
    const record: Record<string, unknown> = { key: row.key, event_time: plainValue(row.event_time), partition: Number(row.partition), offset: Number(row.offset) };
    for (const c of served) record[c.name] = plainValue(row[c.name]);
    let differs = false;
    for (const copy of copies) {
      const expectedBytes = expectedBytesOf(copy.bytes, record);
      if (expectedBytes && copy.bytes.equals(expectedBytes)) continue;
      differs = true;
      const v = copy.value;
      if (!v) note(`${id}: live record undecodable (${copy.error})`);
      else {
        const cols = Object.keys(record).filter((k) => !Object.is(plainValue(v[k]), record[k]));
        note(`${id}: ${cols.length === 0 ? 'bytes differ' : cols.map((k) => `${k} live ${String(v[k])} vs replay ${String(record[k])}`).join(', ')}`);
      }
    }
    n.valuesCompared += served.length;
    if (differs) n.divergent++;
  }
  for (const id of byId.keys()) {
    if (!replayed.has(id)) {
      n.unexpected++;
      note(`${id}: served live, no replayed vector`);
    }
  }
  return { expected: replayed.size, liveRecords: live.length, liveDistinct: byId.size, ...n, misplaced, examples };
}

/** A metric of a worker started with `--metrics-port 0`, summed over its partitions' series; undefined before it serves metrics. */
export async function summedMetric(w: Worker, name: string): Promise<number | undefined> {
  const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(w.log)?.[1];
  if (url === undefined) return undefined;
  const text = await fetch(url).then((r) => r.text(), () => undefined);
  if (text === undefined) return undefined;
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
}

/** The partitions of a worker's last assignment (its log's last "assigned partitions" line), undefined before its first. */
export function lastAssigned(w: Worker): number[] | undefined {
  const m = /assigned partitions ([\d, ]+|\(none\))\n(?![\s\S]*assigned partitions)/.exec(w.log);
  return m === null ? undefined : m[1] === '(none)' ? [] : m[1].split(', ').map(Number);
}

/** Per partition, the committed end of a live group's changelog now. */
export async function changelogEnds(brokers: readonly string[], changelog: string): Promise<Map<number, number>> {
  const conn = await KafkaConnection.open({ brokers });
  try {
    return new Map((await fetchOffsets(conn, changelog)).map((o) => [o.partition, o.high]));
  } finally {
    await conn.close();
  }
}
