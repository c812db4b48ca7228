/**
 * `skewless parity` end to end (DESIGN.md, "Parity"): read the parity log, recompute the same
 * vectors offline by replaying the source topics through the same engine, and compare them
 * with the sampled ones (parity/parity-run.ts).
 *
 * The replay computes state and rows for the sampled keys only; every other record still goes
 * through the engine's checks and moves stream time (Task keyFilter), so the sampled keys'
 * vectors are exactly those of a full replay at a fraction of the cost. In a topology with a
 * regrouping, every record also sends its updates to the regrouped keys (a sampled vector's
 * merchant features count other cards' events), while only the sampled rows ask for answers
 * and are assembled.
 *
 * With `state`, runs are incremental: the state of the sampled keys is kept at a canonical
 * frontier and each run replays only what lies after it. The frontier never passes what the
 * log already holds (ParitySample.loggedUpTo), so no vector logged later can fall behind it
 * unchecked. Records below the log's end that the canonical merge still holds back are
 * finished in a throw-away copy of the state, as a full replay to the same end would. A
 * regrouped topology has no incremental form: its regrouped tasks' state is not kept between
 * runs (replay-regrouped.ts), so `--state` is refused for it.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram, hasRegrouping, type Program } from '../engine/program.js';
import type { TaskMeta } from '../engine/task.js';
import { SchemaRegistryClient } from '../io/avro/registry-client.js';
import { registryEndpoint } from '../io/avro/registry-http.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { compareWithReplay, readParitySample, type OfflineReplay, type ParityRunOptions, type ParityRunResult, type ParitySample } from '../parity/parity-run.js';
import { regroupedParts, type CompiledPlan } from '../plan/compile.js';
import { readCheckpoints } from './bootstrap.js';
import { snapshotEngineOffsets, snapshotKafkaRanges, type KafkaSnapshot } from './kafka-snapshot.js';
import { checkSampledKeys, openParityState, parityStateInfo, saveParityState } from './parity-state.js';
import { replayInParallel, startReplayPool } from './replay-parallel.js';
import type { ReplayWorkerPool } from './replay-worker-pool.js';
import type { KeySelection } from './replay-partitions.js';
import type { KafkaPartitionRange } from './replay-input.js';

/** The run's options, with the replay threads it started: one set for every replay of the run (an incremental run has two). */
interface ParityContext extends ParityRunOptions {
  pool: ReplayWorkerPool | undefined;
}

/** Replays the sources and compares every sampled vector with its recomputation. */
export async function runParity(opts: ParityRunOptions): Promise<ParityRunResult> {
  const started = Date.now();
  const program = buildProgram(opts.plan);
  const regrouped = hasRegrouping(program);
  if (opts.state !== undefined && regrouped) {
    throw new Error(
      `${regroupingOf(opts.plan)}, and parity --state cannot keep regrouped state between runs: ` +
        'drop --state and --parity-rate (each run then replays the whole history of the source topics)',
    );
  }
  const ctx: ParityContext = { ...opts, pool: undefined };
  try {
    const sample = await readParitySample(ctx);
    const work = mkdtempSync(join(tmpdir(), 'skewless-parity-'));
    try {
      if (ctx.state !== undefined) return await runIncremental(ctx, ctx.state, program, sample, work, started);
      const snap = await takeSnapshot(ctx);
      const keys: KeySelection = { keys: [...new Set(sample.log.entries.map((e) => e.key))].sort() };
      const replay = await replayPart(ctx, snap, work, 'all', join(work, 'state'), keys, false);
      return { ...(await compareWithReplay(ctx, program, sample, [replay], started, [])), replayedRecords: replay.read };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  } finally {
    await ctx.pool?.close();
  }
}

/** What the topology regroups, for messages: `topology t regroups by another entity (group g)`. */
const regroupingOf = (plan: CompiledPlan): string => `topology ${plan.topology.name} regroups by another entity (${regroupedParts(plan.topology).join(', ')})`;

/** The source topics' offset ranges now; label sources are left out (parity compares features only). */
async function takeSnapshot(opts: ParityRunOptions): Promise<KafkaSnapshot> {
  const conn = await KafkaConnection.open({ brokers: opts.brokers, security: opts.security?.kafka, verbose: opts.verbose });
  try {
    await SchemaRegistryClient.open(registryEndpoint(opts.registryUrl, opts.security?.registry));
    const full = await snapshotKafkaRanges(conn, { plan: opts.plan, topics: opts.topics });
    const engine = new Set(opts.plan.engineSources);
    return { ...full, sources: full.sources.map((s) => (engine.has(s.source) ? s : { ...s, ranges: s.ranges.map((r) => ({ ...r, start: r.end })) })) };
  } finally {
    await conn.close();
  }
}

async function replayPart(
  opts: ParityContext,
  snap: KafkaSnapshot,
  work: string,
  name: string,
  stateDir: string,
  /** The keys to recompute; every key when absent (a full replay). */
  keys: KeySelection | undefined,
  stopAtFrontier: boolean,
): Promise<OfflineReplay & { readonly read: number }> {
  const replay: OfflineReplay = { out: join(work, name), droppedLateDir: join(work, `${name}-dropped-late`) };
  // Started once, at the first replay: a thread loads TypeScript and the topology (about a second).
  const workers = Math.min(opts.workers ?? availableParallelism(), snap.partitions);
  if (opts.pool === undefined && workers > 1) opts.pool = startReplayPool(opts.plan, workers);
  // Counted from the ranges: the tasks' own counters carry over from the state's earlier runs.
  const read = snapshotEngineOffsets(opts.plan, snap);
  opts.onReplayProgress?.(0, read);
  await replayInParallel({
    plan: opts.plan,
    input: { kind: 'kafka', brokers: opts.brokers, registryUrl: opts.registryUrl, security: opts.security, verbose: opts.verbose, ...snap },
    partitions: snap.partitions,
    out: replay.out,
    droppedLateDir: replay.droppedLateDir,
    stateDir,
    workers: opts.workers,
    pool: opts.pool,
    keys,
    stopAtFrontier,
    onProgress: opts.onReplayProgress === undefined ? undefined : (n) => opts.onReplayProgress!(n, read),
  });
  return { ...replay, read };
}

/** Each engine source's ranges rewritten by `range(source, topic, range)`. */
function withRanges(snap: KafkaSnapshot, engine: ReadonlySet<string>, range: (source: string, topic: string, r: KafkaPartitionRange) => KafkaPartitionRange): KafkaSnapshot {
  return { ...snap, sources: snap.sources.map((s) => (engine.has(s.source) ? { ...s, ranges: s.ranges.map((r) => range(s.source, s.topic, r)) } : s)) };
}

const position = (metas: ReadonlyMap<number, TaskMeta>, source: string, partition: number): number => metas.get(partition)?.positions[source] ?? 0;

async function runIncremental(
  opts: ParityContext,
  state: { readonly dir: string; readonly rate: number },
  program: Program,
  sample: ParitySample,
  work: string,
  started: number,
): Promise<ParityRunResult> {
  const { plan } = opts;
  const engine = new Set(plan.engineSources);
  const topicOf = (source: string): string => opts.topics?.[source] ?? plan.topology.sources.find((s) => s.name === source)!.topic;
  const info = parityStateInfo(plan.topology.name, plan.version, state.rate, Object.fromEntries(plan.engineSources.map((s) => [s, topicOf(s)])));
  const before = await openParityState(state.dir, info);
  checkSampledKeys([...sample.log.entries], state.rate);
  const snap = await takeSnapshot(opts);
  const logged = sample.loggedUpTo;
  const sampledPartitions = new Set([...logged.values()].flatMap((m) => [...m.keys()]));

  // Phase 1: advance the kept state to the canonical frontier below the log's end.
  const first = withRanges(snap, engine, (source, topic, r) => {
    const from = position(before, source, r.partition);
    if (before.has(r.partition) && (from < r.start || from > r.end)) {
      throw new Error(
        `partition ${r.partition} of topic ${topic} holds offsets [${r.start}, ${r.end}) but parity state ${state.dir} continues at offset ${from}: ` +
          'the records it needs are gone (retention) or the topic was recreated; pass a new --state directory to replay what the topic holds',
      );
    }
    const start = Math.max(r.start, from);
    if (!sampledPartitions.has(r.partition)) return { ...r, start, end: start };
    const upTo = logged.get(topic);
    // Sources the log never names (inputs merged into others) are read to the end: only logged sources bound the frontier.
    const end = upTo === undefined ? r.end : Math.min(r.end, Math.max(start, upTo.get(r.partition) ?? start));
    return { ...r, start, end };
  });
  const replays = [await replayPart(opts, first, work, 'advance', state.dir, { rate: state.rate }, true)];
  saveParityState(state.dir, info);

  // Phase 2: records below the log's end the merge (or the warm-up) still holds, finished in a copy.
  const after = await readCheckpoints(state.dir);
  const pending = new Set<number>();
  for (const source of plan.engineSources) {
    for (const [partition, upTo] of logged.get(topicOf(source)) ?? []) if (position(after, source, partition) < upTo) pending.add(partition);
  }
  if (pending.size > 0) {
    const copy = join(work, 'finish-state');
    cpSync(state.dir, copy, { recursive: true });
    const rest = withRanges(snap, engine, (source, _topic, r) => {
      const start = pending.has(r.partition) ? position(after, source, r.partition) : r.end;
      return { ...r, start, end: r.end };
    });
    replays.push(await replayPart(opts, rest, work, 'finish', copy, { rate: state.rate }, false));
  }

  // Vectors below where this run started were checked by an earlier run over the same state.
  const sourceOfTopic = new Map(plan.engineSources.map((s) => [topicOf(s), s]));
  const isNew = (e: { topic: string; partition: number; offset: number }): boolean => {
    const source = sourceOfTopic.get(e.topic);
    return source === undefined || e.offset >= position(before, source, e.partition);
  };
  const entries = sample.log.entries.filter(isNew);
  const earlier = sample.log.entries.length - entries.length;
  if (entries.length === 0) {
    throw new Error(`all ${earlier} sampled vectors in the range were checked by an earlier run with --state ${state.dir}: nothing new to check (widen --since, or pass a new --state to check them again)`);
  }
  const notes = earlier > 0 ? [`${earlier} sampled vectors in the range were checked by an earlier run with --state ${state.dir} and are not checked again`] : [];
  const current: ParitySample = { ...sample, log: { ...sample.log, entries, late: sample.log.late.filter(isNew) } };
  const result = await compareWithReplay(opts, program, current, replays, started, notes);
  return { ...result, replayedRecords: replays.reduce((n, r) => n + r.read, 0) };
}
