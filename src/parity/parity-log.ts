/**
 * The parity log (DESIGN.md, "Parity"): the served feature vectors of sampled keys, written by
 * live workers next to the feature topic and read back by `skewless parity`.
 *
 * Record (Avro, Confluent wire format, subject `<parity topic>-value`), one per served vector:
 *   topic       the source topic of the input record the vector was computed for
 *   partition   its partition (the parity record goes to the same partition number)
 *   offset      its offset: (topic, partition, offset) is where replay recomputes the vector
 *   event_time  event time in ms (plain long: readers get the same number live and offline)
 *   version     the topology version that served it (also the `skewless-version` header)
 *   key         the entity key (also the Kafka record key)
 *   output      the feature output name (a topology may have several)
 *   values      the served values as a JSON object string {feature: value}
 *   kind        "vector" (a served vector) or "late": a record of a sampled key that the live
 *               task treated as late (dropped or side output); output is then empty and values
 *               holds {"reason": ...}. Parity compares these with the records replay found late.
 *   merge_skips the serving task's merge-skip count when it served the vector: above 0, live
 *               had skipped an idle input, which replay never does (DESIGN.md rule 3)
 *   idle_releases for a vector with regrouped features, the most idle releases any regrouped
 *               task answering it had made: above 0, an answer may miss an event that a quiet
 *               upstream sent after the release, which replay counts
 *
 * Why a JSON string rather than map<union{...}>: the set of features differs per output and
 * changes with versions; one fixed schema keeps the subject's history a single version, and
 * JSON keeps the exact JS values (doubles round-trip exactly, booleans stay booleans).
 * Non-finite doubles, which JSON cannot hold, are written as the strings "NaN", "Infinity" and
 * "-Infinity"; {@link decodeParityValue} turns them back for numeric features.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FeatureRow, LateRecord } from '../engine/outputs.js';
import type { SchemaRegistryClient, SchemaRegistryPort } from '../io/avro/registry-client.js';
import { WireDecoder } from '../io/avro/wire-decoder.js';
import { WireEncoder } from '../io/avro/wire-encoder.js';
import type { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { fetchOffsets } from '../io/kafka/topic-admin.js';
import type { OutgoingMessage } from '../io/kafka/topic-producer.js';
import { readTopicRanges } from '../io/kafka/topic-reader.js';
import { writeFailureText } from '../state/storage-problem.js';
import { KeySampler } from './sampler.js';

export const PARITY_RECORD_SCHEMA: object = Object.freeze({
  type: 'record',
  name: 'ParityRecord',
  namespace: 'skewless.parity',
  doc: 'A served feature vector of a sampled key, for online/offline parity checks.',
  fields: [
    { name: 'topic', type: 'string' },
    { name: 'partition', type: 'int' },
    { name: 'offset', type: 'long' },
    { name: 'event_time', type: 'long', doc: 'event time, ms since the epoch' },
    { name: 'version', type: 'string' },
    { name: 'key', type: 'string' },
    { name: 'output', type: 'string' },
    { name: 'values', type: 'string', doc: 'served values as a JSON object {feature: value}' },
    { name: 'kind', type: 'string', default: 'vector', doc: 'vector: a served vector; late: a record of a sampled key that was late live' },
    { name: 'merge_skips', type: 'long', default: 0, doc: 'merge skips of the serving task before this vector' },
    { name: 'idle_releases', type: 'long', default: 0, doc: 'idle releases of the regrouped tasks that answered this vector, the most of any' },
  ],
});

export type ParityValue = number | string | boolean | null;

/** Where a parity log record points: the input record, its key, and the version that served it. */
export interface SampledRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly eventTime: number;
  readonly version: string;
  readonly key: string;
}

/** One served vector of the parity log, decoded. */
export interface ParityEntry extends SampledRecord {
  readonly output: string;
  readonly values: Readonly<Record<string, ParityValue>>;
  /** Merge skips of the serving task before this vector (0 when none). */
  readonly mergeSkips: number;
  /** Idle releases of the regrouped tasks that answered it, the most of any (0 when none, or no regrouping). */
  readonly idleReleases: number;
}

/** A record of a sampled key that the live task treated as late. */
export interface LateLiveEntry extends SampledRecord {
  readonly reason: string;
}

export const paritySubject = (topic: string): string => `${topic}-value`;

/** The Avro record of one served vector, as the schema's field names expect (also a line of a parity file). */
function toRecord(e: ParityEntry): Record<string, unknown> {
  const values = JSON.stringify(e.values, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
  return { topic: e.topic, partition: e.partition, offset: e.offset, event_time: e.eventTime, version: e.version, key: e.key, output: e.output, values, kind: 'vector', merge_skips: e.mergeSkips, idle_releases: e.idleReleases };
}

/** The Avro record of a late-live marker. */
function toLateRecord(l: LateLiveEntry): Record<string, unknown> {
  return { topic: l.topic, partition: l.partition, offset: l.offset, event_time: l.eventTime, version: l.version, key: l.key, output: '', values: JSON.stringify({ reason: l.reason }), kind: 'late', merge_skips: 0, idle_releases: 0 };
}

/**
 * The optional local copy of the parity log: one JSON object per line with the Avro record's
 * fields. Each live task keeps the lines of its uncommitted batch with its other uncommitted
 * records (so a failed task drops only its own) and appends them as the batch is sent, so the
 * file is never behind the state (after a crash it may repeat lines; the reader drops repeats
 * as it does for the topic).
 */
export class ParityFileWriter {
  constructor(
    readonly path: string,
    /** Past this size the file is renamed to `<path>.1` (replacing an older one) and a new one begun. */
    readonly maxBytes = 256 * 1024 * 1024,
  ) {
    mkdirSync(dirname(path), { recursive: true });
  }

  /** One line of the file for a parity record. */
  static line(record: Record<string, unknown>): string {
    return JSON.stringify(record);
  }

  /**
   * Append whole lines or nothing: a write cut short (a full disk) is cut off again, so the
   * batch's retry does not glue its first line to a torn one (one line the reader could not parse
   * and a vector parity would then miss).
   */
  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    const before = existsSync(this.path) ? statSync(this.path).size : 0;
    try {
      appendFileSync(this.path, text);
    } catch (e) {
      try {
        truncateSync(this.path, before);
      } catch {
        // Nothing was written, or the file cannot be touched at all: the append's own error says why.
      }
      throw new Error(writeFailureText(`parity file ${this.path}`, e, 'and the batch is retried by itself'));
    }
    // Bounded on disk: the current file and one rotated predecessor, which the reader reads first.
    if (before + Buffer.byteLength(text) > this.maxBytes) renameSync(this.path, `${this.path}.1`);
  }
}

/** Encodes parity entries as Kafka messages for one parity topic. */
export class ParityLogEncoder {
  private constructor(
    readonly topic: string,
    private readonly encoder: WireEncoder,
    private readonly headers: Readonly<Record<string, string>>,
  ) {}

  /** Registers the schema under `<topic>-value`; the headers carry the serving version. */
  static async open(registry: SchemaRegistryPort, topic: string, version: string, topology: string): Promise<ParityLogEncoder> {
    const id = await registry.register(paritySubject(topic), PARITY_RECORD_SCHEMA);
    return new ParityLogEncoder(topic, new WireEncoder(PARITY_RECORD_SCHEMA, id), { 'skewless-version': version, 'skewless-topology': topology });
  }

  /** Same partition as the input record, keyed by the entity key, timestamped with event time. */
  message(e: ParityEntry): OutgoingMessage {
    return this.encode(toRecord(e), e);
  }

  /** The marker of a record of a sampled key that was late live. */
  lateMessage(l: LateLiveEntry): OutgoingMessage {
    return this.encode(toLateRecord(l), l);
  }

  private encode(record: Record<string, unknown>, at: SampledRecord): OutgoingMessage {
    const enc = this.encoder.encode(record);
    if (enc.error !== undefined) throw new Error(`parity log ${this.topic}: ${enc.error}`);
    return { key: at.key, value: enc.bytes, partition: at.partition, timestamp: at.eventTime, headers: { ...this.headers, 'skewless-version': at.version } };
  }
}

/** Location fields of a live feature record: not features, so not in `values`. */
const LOCATION_FIELDS = new Set(['key', 'event_time', 'partition', 'offset']);

/**
 * What a live worker needs: the sampler verdict and the message for a served vector. `served`
 * is the feature record exactly as produced to the feature topic, so the log holds the values
 * that were served, not a recomputation.
 */
export class LiveParityLog {
  private constructor(
    private readonly sampler: KeySampler,
    private readonly encoder: ParityLogEncoder,
    private readonly sourceTopics: ReadonlyMap<string, string>,
    private readonly version: string,
    private readonly file: ParityFileWriter | undefined,
  ) {}

  static async open(
    registry: SchemaRegistryPort,
    opts: { rate: number; topic: string; file?: string },
    sourceTopics: ReadonlyMap<string, string>,
    version: string,
    topology: string,
  ): Promise<LiveParityLog> {
    const sampler = new KeySampler(opts.rate);
    const file = opts.file === undefined ? undefined : new ParityFileWriter(opts.file);
    return new LiveParityLog(sampler, await ParityLogEncoder.open(registry, opts.topic, version, topology), sourceTopics, version, file);
  }

  /** Append a task's lines of the local copy and empty them (call as their batch is sent; the reader drops repeats). */
  writeFile(lines: string[]): void {
    this.file?.append(lines);
    lines.length = 0;
  }

  get topic(): string {
    return this.encoder.topic;
  }

  /** The message for a served vector, or undefined when its key is not sampled; its line of the local copy goes to `fileLines`. */
  messageFor(row: FeatureRow, served: () => Readonly<Record<string, unknown>>, mergeSkips: number, fileLines: string[]): OutgoingMessage | undefined {
    if (!this.sampler.selects(row.key)) return undefined;
    const values: Record<string, ParityValue> = {};
    // The served record is built only for sampled keys: the live hot path encodes without it.
    for (const [name, v] of Object.entries(served())) if (!LOCATION_FIELDS.has(name)) values[name] = v as ParityValue;
    const topic = this.sourceTopics.get(row.source) ?? row.source;
    const entry: ParityEntry = { topic, partition: row.partition, offset: row.offset, eventTime: row.eventTime, version: this.version, key: row.key, output: row.output, values, mergeSkips, idleReleases: row.idleReleases ?? 0 };
    if (this.file !== undefined) fileLines.push(ParityFileWriter.line(toRecord(entry)));
    return this.encoder.message(entry);
  }

  /** The marker for a late record, or undefined when its key is not sampled; its line of the local copy goes to `fileLines`. */
  lateMessageFor(l: LateRecord, fileLines: string[]): OutgoingMessage | undefined {
    if (!this.sampler.selects(l.key)) return undefined;
    const topic = this.sourceTopics.get(l.source) ?? l.source;
    const entry: LateLiveEntry = { topic, partition: l.partition, offset: l.offset, eventTime: l.eventTime, version: this.version, key: l.key, reason: l.reason };
    if (this.file !== undefined) fileLines.push(ParityFileWriter.line(toLateRecord(entry)));
    return this.encoder.lateMessage(entry);
  }
}

/** A numeric feature value from the log: the non-finite markers become numbers again. */
export function decodeParityValue(v: ParityValue, numeric: boolean): ParityValue {
  if (numeric && typeof v === 'string' && (v === 'NaN' || v === 'Infinity' || v === '-Infinity')) return Number(v);
  return v;
}

/** A record's position as the log names it: its source topic, partition and offset. */
export const positionId = (topic: string, partition: number, offset: number): string => `${topic}\u0000${partition}\u0000${offset}`;

export interface ParityLogContents {
  /** Unique served vectors, in partition then offset order of the log. */
  readonly entries: readonly ParityEntry[];
  /**
   * {@link positionId} of every served vector in the whole log, whatever part of it `entries`
   * keeps (--since/--until): the input records the sampling workers are known to have served.
   */
  readonly vectorsAt: ReadonlySet<string>;
  /** Unique records of sampled keys that were late live, in the same order. */
  readonly late: readonly LateLiveEntry[];
  /** Records seen again for the same (output, topic, partition, offset): at-least-once delivery after a crash. */
  readonly duplicates: number;
  /** Records that could not be decoded, with why (first few). */
  readonly undecodable: number;
  readonly errors: readonly string[];
}

/** Collects decoded parity records: drops repeats (at-least-once delivery), keeps partition then arrival order. */
class ParityLogCollector {
  private readonly seen = new Set<string>();
  private readonly vectors = new Map<number, ParityEntry[]>();
  private readonly late = new Map<number, LateLiveEntry[]>();
  private readonly vectorsAt = new Set<string>();
  private duplicates = 0;
  private undecodable = 0;
  private readonly errors: string[] = [];

  fail(where: string, error: string): void {
    this.undecodable++;
    if (this.errors.length < 5) this.errors.push(`${where}: ${error}`);
  }

  add(r: Record<string, unknown>, where: string): void {
    try {
      const partition = Number(r.partition);
      if (r.kind === 'late') {
        const id = `late\u0000${String(r.topic)}\u0000${partition}\u0000${Number(r.offset)}`;
        if (this.repeat(id)) return;
        const values = JSON.parse(String(r.values)) as { reason?: unknown };
        listOf(this.late, partition).push({ topic: String(r.topic), partition, offset: Number(r.offset), eventTime: Number(r.event_time), version: String(r.version), key: String(r.key), reason: String(values.reason ?? '') });
        return;
      }
      const entry: ParityEntry = {
        topic: String(r.topic),
        partition,
        offset: Number(r.offset),
        eventTime: Number(r.event_time),
        version: String(r.version),
        key: String(r.key),
        output: String(r.output),
        values: JSON.parse(String(r.values)) as Record<string, ParityValue>,
        mergeSkips: Number(r.merge_skips ?? 0),
        idleReleases: Number(r.idle_releases ?? 0),
      };
      if (this.repeat(`${entry.output}\u0000${entry.topic}\u0000${entry.partition}\u0000${entry.offset}`)) return;
      listOf(this.vectors, partition).push(entry);
      this.vectorsAt.add(positionId(entry.topic, entry.partition, entry.offset));
    } catch (e) {
      this.fail(where, `values are not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  contents(): ParityLogContents {
    const ordered = <T>(m: Map<number, T[]>): T[] => [...m.keys()].sort((a, b) => a - b).flatMap((p) => m.get(p)!);
    return { entries: ordered(this.vectors), vectorsAt: this.vectorsAt, late: ordered(this.late), duplicates: this.duplicates, undecodable: this.undecodable, errors: this.errors };
  }

  private repeat(id: string): boolean {
    if (this.seen.has(id)) {
      this.duplicates++;
      return true;
    }
    this.seen.add(id);
    return false;
  }
}

function listOf<T>(m: Map<number, T[]>, partition: number): T[] {
  let list = m.get(partition);
  if (!list) m.set(partition, (list = []));
  return list;
}

/** Reads the whole parity log topic as it is now (a snapshot of its end offsets). */
export async function readParityLog(conn: KafkaConnection, registry: SchemaRegistryClient, topic: string): Promise<ParityLogContents> {
  const offsets = await fetchOffsets(conn, topic);
  const decoder = new WireDecoder(registry, PARITY_RECORD_SCHEMA);
  const collector = new ParityLogCollector();
  for await (const b of readTopicRanges(conn, offsets.map((p) => ({ topic, partition: p.partition, start: p.low, end: p.high })))) {
    const decoded = await decoder.decodeAll(b.records.map((r) => r.value));
    decoded.forEach((d, i) => {
      const where = `${topic}/${b.partition}@${b.records[i].offset}`;
      if (d.error !== undefined) collector.fail(where, d.error);
      else collector.add(d.value as Record<string, unknown>, where);
    });
  }
  return collector.contents();
}

/** Reads a local parity file (`skewless run --parity-file`): one JSON record per line. */
export function readParityFile(path: string): ParityLogContents {
  const collector = new ParityLogCollector();
  // The rotated predecessor first (older lines), then the current file.
  for (const file of [`${path}.1`, path]) {
    if (file !== path && !existsSync(file)) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (line.trim() === '') return;
        let r: unknown;
        try {
          r = JSON.parse(line);
        } catch (e) {
          collector.fail(`${file}:${i + 1}`, `not JSON: ${e instanceof Error ? e.message : String(e)}`);
          return;
        }
        if (typeof r !== 'object' || r === null) collector.fail(`${file}:${i + 1}`, 'not a JSON object');
        else collector.add(r as Record<string, unknown>, `${file}:${i + 1}`);
      });
  }
  return collector.contents();
}
