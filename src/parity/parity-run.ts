/**
 * The two halves of `skewless parity` around the replay (DESIGN.md, "Parity"): read the parity
 * log, and, once modes/parity-replay.ts has recomputed the same vectors offline by replaying the
 * source topics through the same engine, pair each sampled vector with the offline row at
 * exactly its (partition, offset) and compare per feature with the statistics in this folder.
 *
 * Pairing is by (output, partition, offset): a feature output hangs off one source stream, so
 * within an output an input (partition, offset) names one event.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import type { OutputColumn } from '../engine/outputs.js';
import type { Program } from '../engine/program.js';
import { SchemaRegistryClient } from '../io/avro/registry-client.js';
import { registryEndpoint } from '../io/avro/registry-http.js';
import type { ClientEndpoints } from '../io/client-security.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { formatCount } from '../io/number-format.js';
import type { ColumnType } from '../ops/aggregation.js';
import type { CompiledPlan } from '../plan/compile.js';
import { buildParityReport, type FeatureInput, type ParityReport } from './feature-report.js';
import { MismatchExamples, valueDifference, type MismatchGroup, type MismatchRow } from './mismatch-examples.js';
import { compareLate, MismatchExplainer, type LateOfflineRecord } from './mismatch-explainer.js';
import { decodeParityValue, readParityFile, readParityLog, type ParityEntry, type ParityLogContents, type ParityValue } from './parity-log.js';
import { DEFAULT_MISMATCH_TOLERANCE, isNullValue, valuesAgree, type FeatureType, type FeatureValue } from './row-compare.js';

export interface ParityRunOptions extends ClientEndpoints {
  readonly plan: CompiledPlan;
  /** The parity log: its topic (`skewless run --parity-topic`) or local file (`--parity-file`). */
  readonly sample: { readonly topic: string } | { readonly file: string };
  /** Only check sampled vectors with event time in [since, until) (ms). */
  readonly since?: number;
  readonly until?: number;
  /**
   * Keep the recomputation's state here between runs (an hourly job): each run replays only
   * the input after what the state holds. `rate` is the live workers' --parity-rate: the state
   * holds every key sampled at it, and a key the log holds that it leaves out is an error.
   */
  readonly state?: { readonly dir: string; readonly rate: number };
  /** Source name → topic, overriding the topology's (as for backfill --from-kafka). */
  readonly topics?: Readonly<Record<string, string>>;
  /** Relative tolerance for float features, default 0.10. */
  readonly tolerance?: number;
  readonly workers?: number;
  readonly verbose?: boolean;
  /** Records replayed so far of the replay's total (a progress display); once per replayed part. */
  readonly onReplayProgress?: (done: number, total: number) => void;
  /** Mismatching values listed per feature and cause, the first in log order (all are counted). Default 5. */
  readonly examplesPerGroup?: number;
}

export type { MismatchGroup, MismatchRow } from './mismatch-examples.js';

export interface ParitySampleSummary {
  readonly topic: string;
  /** Unique sampled vectors in the log. */
  readonly records: number;
  readonly duplicates: number;
  readonly undecodable: number;
  /** Sampled vectors with an offline row at their (partition, offset). */
  readonly matched: number;
  /** Sampled vectors replay produced no row for (listed in explanations). */
  readonly missingOffline: number;
  /** Sampled vectors served by another topology version than the one checked. */
  readonly otherVersion: number;
  readonly servedVersions: Readonly<Record<string, number>>;
  /** Sampled vectors served after their task had skipped an idle input live. */
  readonly afterMergeSkips: number;
  /** Sampled vectors whose regrouped features a regrouped task answered after releasing past a quiet upstream live. */
  readonly afterIdleReleases: number;
  /** Records of sampled keys the live tasks treated as late (markers in the log). */
  readonly lateLive: number;
  /** Of those, records replay did not treat as late; and records of sampled keys late only in replay. */
  readonly lateLiveOnly: number;
  readonly lateOfflineOnly: number;
}

export interface ParityRunResult {
  readonly topology: string;
  readonly version: string;
  readonly tolerance: number;
  /** True when the report alerts or sampled vectors could not be recomputed. */
  readonly alert: boolean;
  readonly reasons: readonly string[];
  readonly sample: ParitySampleSummary;
  readonly explanations: readonly string[];
  readonly mismatchCount: number;
  /** Examples of mismatching values, grouped as `mismatchGroups` lists them. */
  readonly mismatches: readonly MismatchRow[];
  /** Mismatching values per feature and cause, with how many of each are listed in `mismatches`. */
  readonly mismatchGroups: readonly MismatchGroup[];
  readonly report: ParityReport;
  readonly seconds: number;
  /** Input records the recomputation read (an incremental run reads only what is new, plus what the merge held back). */
  readonly replayedRecords?: number;
}

/** Lists and maps compare as their text: equal only when every item is, and categorical in the distribution tests. */
const FEATURE_TYPE: Readonly<Record<ColumnType, FeatureType>> = {
  int64: 'integer',
  double: 'float',
  string: 'string',
  boolean: 'boolean',
  'list<double>': 'string',
  'list<string>': 'string',
  'map<int64>': 'string',
  'map<double>': 'string',
};

/** A list or map as text that is equal exactly when the values are (maps: keys sorted, as Parquet and Avro may order them differently). */
function structuredText(v: object): string {
  if (Array.isArray(v)) return JSON.stringify(v);
  // Parquet int64 map values arrive as bigints.
  const entries = Object.entries(v).map(([k, x]) => [k, typeof x === 'bigint' ? Number(x) : x] as const);
  return JSON.stringify(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Parquet int64 columns arrive as bigint; the log holds JS numbers: compare as numbers (exact below 2^53). */
function offlineValue(v: unknown): ParityValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'object') return structuredText(v);
  return String(v);
}

/** A logged value as compared: a list or map (JSON in the log) as its text, like offlineValue. */
function onlineValue(v: unknown): ParityValue {
  return typeof v === 'object' && v !== null ? structuredText(v) : (v as ParityValue);
}

/** Offline rows of one output at the wanted (partition, offset)s, from each replay's directory of it. */
async function offlineRows(dirs: readonly string[], wanted: ReadonlySet<string>): Promise<Map<string, Record<string, unknown>>> {
  const rows = new Map<string, Record<string, unknown>>();
  const files: string[] = [];
  for (const dir of dirs) {
    try {
      files.push(...readdirSync(dir).filter((f) => f.endsWith('.parquet')).sort().map((f) => join(dir, f)));
    } catch {
      // The replay wrote no file for this output: its sampled vectors are missing offline.
    }
  }
  for (const f of files) {
    const buf = readFileSync(f);
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    for (const row of (await parquetReadObjects({ file })) as Record<string, unknown>[]) {
      const id = `${Number(row.partition)}/${Number(row.offset)}`;
      if (wanted.has(id)) rows.set(id, row);
    }
  }
  return rows;
}

/** The late records a replay wrote (NDJSON per partition); none when the directory does not exist. */
function readLateRecords(dir: string): LateOfflineRecord[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort();
  } catch {
    return [];
  }
  const out: LateOfflineRecord[] = [];
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line === '') continue;
      const r = JSON.parse(line) as { source: string; partition: number; offset: number; key: string; event_time: number };
      out.push({ source: r.source, partition: r.partition, offset: r.offset, key: r.key, eventTime: r.event_time });
    }
  }
  return out;
}

function pairValuesDiffer(a: ParityValue, b: ParityValue, type: FeatureType, tolerance: number): boolean {
  const aNull = isNullValue(a as FeatureValue);
  const bNull = isNullValue(b as FeatureValue);
  if (aNull || bNull) return aNull !== bNull;
  return !valuesAgree(a as NonNullable<FeatureValue>, b as NonNullable<FeatureValue>, type, tolerance);
}

/** The sampled vectors to check: the parity log's entries with event time in the range asked for. */
export interface ParitySample {
  /** The log's topic or file. */
  readonly name: string;
  readonly log: ParityLogContents;
  /**
   * Source topic → partition → one past the highest input offset the whole log (any time)
   * holds. A task logs its sampled records in offset order within transactions, so every
   * entry below it that will ever be logged already is.
   */
  readonly loggedUpTo: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

function loggedFrontiers(log: ParityLogContents): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const e of [...log.entries, ...log.late]) {
    let byPartition = out.get(e.topic);
    if (byPartition === undefined) out.set(e.topic, (byPartition = new Map()));
    byPartition.set(e.partition, Math.max(byPartition.get(e.partition) ?? 0, e.offset + 1));
  }
  return out;
}

/** Reads the parity log and keeps the entries in [since, until); throws when none are left. */
export async function readParitySample(opts: ParityRunOptions): Promise<ParitySample> {
  const sampleName = 'topic' in opts.sample ? opts.sample.topic : opts.sample.file;
  let full: ParityLogContents;
  if ('topic' in opts.sample) {
    const conn = await KafkaConnection.open({ brokers: opts.brokers, security: opts.security?.kafka, verbose: opts.verbose });
    try {
      const registry = await SchemaRegistryClient.open(registryEndpoint(opts.registryUrl, opts.security?.registry));
      full = await readParityLog(conn, registry, opts.sample.topic);
    } finally {
      await conn.close();
    }
  } else {
    full = readParityFile(opts.sample.file);
  }
  const inRange = (t: number): boolean => (opts.since === undefined || t >= opts.since) && (opts.until === undefined || t < opts.until);
  const log: ParityLogContents = { ...full, entries: full.entries.filter((e) => inRange(e.eventTime)) };
  if (log.entries.length === 0) {
    const range = opts.since !== undefined || opts.until !== undefined ? ` with event time in [${opts.since === undefined ? '-∞' : new Date(opts.since).toISOString()}, ${opts.until === undefined ? '∞' : new Date(opts.until).toISOString()})` : '';
    const undecodable = log.undecodable > 0 ? ` (${log.undecodable} undecodable: ${log.errors.join('; ')})` : '';
    if (full.entries.length > 0) {
      // Samples exist, just not in the range asked for: say where they are rather than to start sampling.
      let lo = Infinity;
      let hi = -Infinity;
      for (const e of full.entries) {
        if (e.eventTime < lo) lo = e.eventTime;
        if (e.eventTime > hi) hi = e.eventTime;
      }
      throw new Error(
        `parity log ${sampleName} holds no sampled vectors${range}${undecodable}: its ${formatCount(full.entries.length)} vectors have event times from ` +
          `${new Date(lo).toISOString()} to ${new Date(hi).toISOString()}; widen --since / --until`,
      );
    }
    throw new Error(`parity log ${sampleName} holds no sampled vectors${range}${undecodable}: run the live worker with --parity-rate and --parity-topic first`);
  }
  return { name: sampleName, log, loggedUpTo: loggedFrontiers(full) };
}

/** Where a replay wrote its recomputation: rows per output under `out`, dropped late records under `droppedLateDir`. */
export interface OfflineReplay {
  readonly out: string;
  readonly droppedLateDir: string;
}

/**
 * Compares every sampled vector with its recomputation by the replays (one, or an incremental
 * run's parts, which cover disjoint offsets); `started` is when the run began (ms); `notes`
 * are explanations the replay adds (e.g. vectors an earlier run checked).
 */
export async function compareWithReplay(
  opts: ParityRunOptions,
  program: Program,
  sample: ParitySample,
  replays: readonly OfflineReplay[],
  started: number,
  notes: readonly string[] = [],
): Promise<ParityRunResult> {
  const { plan } = opts;
  const tolerance = opts.tolerance ?? DEFAULT_MISMATCH_TOLERANCE;
  const { name: sampleName, log } = sample;

  const explanations: string[] = [...notes];
  const servedVersions: Record<string, number> = {};
  for (const e of log.entries) servedVersions[e.version] = (servedVersions[e.version] ?? 0) + 1;
  const otherVersion = log.entries.filter((e) => e.version !== plan.version).length;
  if (otherVersion > 0) {
    explanations.push(
      `${formatCount(otherVersion)} sampled vectors were served by another topology version (${Object.keys(servedVersions).filter((v) => v !== plan.version).join(', ')}) than the one checked (${plan.version}): ` +
        'differences in them may come from the version change rather than skew; check them with the topology file of their version, or sample only after the deploy',
    );
  }
  const afterMergeSkips = log.entries.filter((e) => e.mergeSkips > 0).length;
  if (afterMergeSkips > 0) {
    explanations.push(`${formatCount(afterMergeSkips)} sampled vectors were served after their task skipped an idle input live (a merge skip; replay always merges canonically, DESIGN.md rule 3): differences in them are explained by that`);
  }
  const afterIdleReleases = log.entries.filter((e) => e.idleReleases > 0).length;
  if (afterIdleReleases > 0) {
    explanations.push(
      `${formatCount(afterIdleReleases)} sampled vectors had regrouped features answered after live released past a quiet upstream (an idle release; replay waits for every upstream): ` +
        'an event that upstream sent afterwards may be missing from them, so differences in them are explained by that',
    );
  }
  const sourceOfTopic = new Map(plan.topology.sources.map((s) => [opts.topics?.[s.name] ?? s.topic, s.name]));
  const offlineLate = replays.flatMap((r) => [...readLateRecords(join(r.out, '_late_records')), ...readLateRecords(r.droppedLateDir)]);
  const late = compareLate(log.late, offlineLate, sourceOfTopic, log.vectorsAt);
  if (late.liveOnly.length > 0) {
    const l = late.liveOnly[0];
    explanations.push(`${formatCount(late.liveOnly.length)} records of sampled keys were late live but not in replay (first ${l.topic}/${l.partition}@${l.offset}, key ${l.key}: ${l.reason}): vectors of those keys after them may differ`);
  }
  if (late.offlineOnly.length > 0) {
    const r = late.offlineOnly[0];
    explanations.push(`${formatCount(late.offlineOnly.length)} records of sampled keys were late in replay but not live (first ${r.source}/${r.partition}@${r.offset}, key ${r.key})`);
  }
  const explainer = new MismatchExplainer(plan.version, late);

  const inputs: FeatureInput[] = [];
  const mismatches = new MismatchExamples(opts.examplesPerGroup ?? 5);
  let mismatchCount = 0;
  let matched = 0;
  let missingOffline = 0;
  const multipleOutputs = new Set(log.entries.map((e) => e.output)).size > 1;
  const outputs = new Map(program.outputs.map((o) => [o.name, o]));
  for (const outputName of [...new Set(log.entries.map((e) => e.output))].sort()) {
    const output = outputs.get(outputName);
    const entries = log.entries.filter((e) => e.output === outputName);
    if (output === undefined) {
      explanations.push(`${formatCount(entries.length)} sampled vectors belong to output ${outputName}, which topology ${plan.topology.name} does not have`);
      missingOffline += entries.length;
      continue;
    }
    const rows = await offlineRows(replays.map((r) => join(r.out, outputName)), new Set(entries.map((e) => `${e.partition}/${e.offset}`)));
    const pairs: Array<{ entry: ParityEntry; row: Record<string, unknown> }> = [];
    const missing: string[] = [];
    for (const entry of entries) {
      const row = rows.get(`${entry.partition}/${entry.offset}`);
      if (row === undefined) missing.push(`${entry.topic}/${entry.partition}@${entry.offset}`);
      else pairs.push({ entry, row });
    }
    matched += pairs.length;
    missingOffline += missing.length;
    if (missing.length > 0) {
      explanations.push(`${formatCount(missing.length)} sampled vectors of ${outputName} have no offline row (first: ${missing.slice(0, 5).join(', ')}): the source topics no longer hold those offsets, or --topic names other topics than live read`);
    }
    const served: readonly OutputColumn[] = output.columns.filter((c) => c.role !== 'label');
    for (const c of served) {
      const type = FEATURE_TYPE[c.type];
      const numeric = type === 'float' || type === 'integer';
      const online = pairs.map((p) => decodeParityValue(onlineValue(p.entry.values[c.name] ?? null), numeric));
      const offline = pairs.map((p) => offlineValue(p.row[c.name]));
      const name = multipleOutputs ? `${outputName}.${c.name}` : c.name;
      inputs.push({ name, type, online, offline });
      pairs.forEach((p, i) => {
        if (!pairValuesDiffer(online[i], offline[i], type, tolerance)) return;
        mismatchCount++;
        const e = p.entry;
        const why = explainer.explain(e);
        mismatches.add({
          output: outputName, feature: name, partition: e.partition, offset: e.offset, key: e.key, eventTime: e.eventTime,
          online: online[i], offline: offline[i], difference: valueDifference(online[i], offline[i]), cause: why?.cause ?? null, detail: why?.detail ?? null, explanation: why?.explanation ?? null,
        });
      });
    }
  }

  const report = buildParityReport(inputs, { thresholds: { mismatchTolerance: tolerance } });
  const reasons = [...report.reasons];
  if (missingOffline > 0) reasons.push(`${formatCount(missingOffline)} sampled vectors could not be recomputed offline`);
  if (matched === 0) reasons.push('no sampled vector could be paired with an offline row');
  return {
    topology: plan.topology.name,
    version: plan.version,
    tolerance,
    alert: reasons.length > 0,
    reasons,
    sample: { topic: sampleName, records: log.entries.length, duplicates: log.duplicates, undecodable: log.undecodable, matched, missingOffline, otherVersion, servedVersions, afterMergeSkips, afterIdleReleases, lateLive: log.late.length, lateLiveOnly: late.liveOnly.length, lateOfflineOnly: late.offlineOnly.length },
    explanations,
    mismatchCount,
    mismatches: mismatches.rows(),
    mismatchGroups: mismatches.groups(),
    report,
    seconds: (Date.now() - started) / 1000,
  };
}
