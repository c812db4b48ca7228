/**
 * Bootstrap (DESIGN.md): replay history into state, then hand off to live at the exact next
 * offsets. The replay is an ordinary Kafka replay (`replayKafka`) that keeps its final state,
 * stopped at the canonical frontier: what the merge of several inputs still holds at the end
 * (a table's versions ahead of the stream) stays unapplied, as live holds it, instead of moving
 * stream time past records live has yet to read. Every task's checkpoint holds its state and
 * its positions, the next offsets to apply (the end offsets the replay snapshotted, unless the
 * merge held records); with a regrouping, task P's store also holds regroup partition P's state
 * as of the end of the history (regroup-handover.ts), and its row assembler starts empty. The
 * consumer group's offsets are then set to exactly those positions, so a live worker on the
 * same state and group reads the first record the state has not applied and never re-reads
 * (or re-emits) what it has.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskMeta } from '../engine/task.js';
import { SchemaRegistryClient } from '../io/avro/registry-client.js';
import { registryEndpoint } from '../io/avro/registry-http.js';
import type { ClientEndpoints } from '../io/client-security.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { commitGroupOffsets, topicPartitionCount } from '../io/kafka/topic-admin.js';
import type { CompiledPlan } from '../plan/compile.js';
import { LevelBackend } from '../state/state-backend.js';
import { replayKafka } from './replay-kafka.js';
import type { ReplaySummary } from './replay-partitions.js';
import { clearBootstrapMark, markBootstrapStarted, refuseUnfinishedBootstrap } from './unfinished-bootstrap.js';

export interface BootstrapOptions extends ClientEndpoints {
  readonly plan: CompiledPlan;
  /** State root for the live worker (one LevelDB per task); must not hold task state yet. */
  readonly stateDir: string;
  /** Consumer group the live worker will join; default `skewless-<topology>` (as `run`). */
  readonly group?: string;
  /** Source name → topic, overriding the topology's. */
  readonly topics?: Readonly<Record<string, string>>;
  /** Keep the replay's training output here; default a temporary directory removed at the end. */
  readonly out?: string;
  /** Overwrite offsets the group has already committed for the source topics. */
  readonly force?: boolean;
  readonly workers?: number;
  readonly batchSize?: number;
  readonly onProgress?: (processed: number) => void;
  /** The number of records the replay will read, once its snapshot is taken. */
  readonly onTotal?: (records: number) => void;
  readonly verbose?: boolean;
}

/** One committed group offset: the next offset live reads from `topic` partition `partition`. */
export interface HandoffOffset {
  readonly source: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface BootstrapResult {
  readonly version: string;
  readonly group: string;
  readonly stateDir: string;
  /** Where the training output was kept, when `out` was given. */
  readonly out?: string;
  readonly replay: ReplaySummary;
  /** The group offsets set, per engine source and partition (= the task checkpoints' positions). */
  readonly offsets: readonly HandoffOffset[];
  /** Offsets the group had committed before and `force` overwrote. */
  readonly replaced: readonly HandoffOffset[];
}

export const defaultGroup = (plan: CompiledPlan): string => `skewless-${plan.topology.name}`;

const TASK_DIR = /^task-\d+$/;

/** The task state directories under a state root (none when it does not exist). */
function taskDirs(stateDir: string): string[] {
  if (!existsSync(stateDir)) return [];
  return readdirSync(stateDir).filter((d) => TASK_DIR.test(d)).sort();
}

/** Every task's checkpoint under a state root, by partition. */
export async function readCheckpoints(stateDir: string): Promise<Map<number, TaskMeta>> {
  const metas = new Map<number, TaskMeta>();
  for (const d of taskDirs(stateDir)) {
    const partition = Number(d.slice('task-'.length));
    const backend = await LevelBackend.open(join(stateDir, d));
    try {
      const [bytes] = await backend.getMany([`p${partition}/meta`]);
      if (bytes) metas.set(partition, JSON.parse(new TextDecoder().decode(bytes)) as TaskMeta);
    } finally {
      await backend.close();
    }
  }
  return metas;
}

function describe(offsets: readonly HandoffOffset[]): string {
  const byTopic = new Map<string, string[]>();
  for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), `p${o.partition}=${o.offset}`]);
  return [...byTopic].map(([t, ps]) => `${t} ${ps.join(' ')}`).join('; ');
}

export async function bootstrap(opts: BootstrapOptions): Promise<BootstrapResult> {
  const { plan, stateDir } = opts;
  const group = opts.group ?? defaultGroup(plan);

  // 1. Fresh state only: bootstrap writes every task's state from the history.
  const existing = taskDirs(stateDir);
  if (existing.length > 0) {
    refuseUnfinishedBootstrap(stateDir);
    throw new Error(
      `state dir ${stateDir} already holds task state (${existing.length} task${existing.length === 1 ? '' : 's'}: ${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}); ` +
        `bootstrap only fills fresh state. To continue from it, run \`skewless run <topology> --state ${stateDir}\`; ` +
        `to rebuild it from history, remove the directory (or pass another --state) and bootstrap again`,
    );
  }

  const topicOf = (source: string): string => opts.topics?.[source] ?? plan.topology.sources.find((s) => s.name === source)!.topic;
  const engine = plan.engineSources.map((source) => ({ source, topic: topicOf(source) }));

  // 2. The group must not have offsets of its own (a running or earlier deployment), unless forced.
  //    Checked before the replay, which may take long; checked again when committing.
  const conn = await KafkaConnection.open({ brokers: opts.brokers, security: opts.security?.kafka, verbose: opts.verbose });
  const replaced: HandoffOffset[] = [];
  try {
    await SchemaRegistryClient.open(registryEndpoint(opts.registryUrl, opts.security?.registry));
    for (const { source, topic } of engine) {
      if ((await topicPartitionCount(conn, topic)) === undefined) {
        throw new Error(`Kafka topic "${topic}" of source "${source}" does not exist: produce it (skewless produce <topology> --source ${source} --input <file>) or pass --topic ${source}=<topic>`);
      }
      const { previous } = await commitGroupOffsets(conn, group, topic, []);
      replaced.push(...previous.map((p) => ({ source, topic, ...p })));
    }
  } finally {
    await conn.close();
  }
  if (replaced.length > 0 && opts.force !== true) {
    throw committedError(group, replaced, 'use another --group, delete the group, or pass --force to overwrite its offsets');
  }

  // 3. Replay the history (up to the end offsets snapshotted now) into the state dir.
  const tempOut = opts.out === undefined;
  const out = opts.out ?? mkdtempSync(join(tmpdir(), 'skewless-bootstrap-'));
  let replay: ReplaySummary;
  let metas: Map<number, TaskMeta>;
  mkdirSync(stateDir, { recursive: true });
  markBootstrapStarted(stateDir, { group, topology: plan.topology.name, started: new Date().toISOString() });
  try {
    try {
      replay = await replayKafka({
        plan,
        brokers: opts.brokers,
        registryUrl: opts.registryUrl,
        security: opts.security,
        topics: opts.topics,
        out,
        stateDir,
        // Regrouped tasks as of the end of the history, beside the origin tasks (regroup-handover.ts).
        keepRegroupedState: true,
        stopAtFrontier: true,
        workers: opts.workers,
        batchSize: opts.batchSize,
        onProgress: opts.onProgress,
        onTotal: opts.onTotal,
        verbose: opts.verbose,
      });
      metas = await readCheckpoints(stateDir);
    } catch (e) {
      // Half-written state must not be mistaken for a bootstrapped one: the directory held no task state before.
      for (const d of taskDirs(stateDir)) rmSync(join(stateDir, d), { recursive: true, force: true });
      clearBootstrapMark(stateDir);
      throw e;
    }
    // Complete: a kill from here on leaves a state `run` can continue from (step 5 says how).
    clearBootstrapMark(stateDir);
  } finally {
    if (tempOut) rmSync(out, { recursive: true, force: true });
  }

  // 4. The handoff offsets: per engine source and partition, the task checkpoint's position
  //    (the next offset to apply), or the start of the range for a partition the replay read
  //    nothing from.
  const offsets: HandoffOffset[] = [];
  for (const range of replay.inputRanges) {
    const meta = metas.get(range.partition);
    if (meta !== undefined && meta.version !== plan.version) {
      throw new Error(`bootstrap: task ${range.partition} checkpoint has version ${meta.version}, expected ${plan.version}`);
    }
    const offset = Math.max(meta?.positions[range.source] ?? 0, range.firstOffset);
    if (offset > range.endOffset) {
      throw new Error(`bootstrap: task ${range.partition} is at offset ${offset} of ${range.origin}, beyond the replayed end ${range.endOffset}`);
    }
    offsets.push({ source: range.source, topic: range.origin, partition: range.partition, offset });
  }

  // 5. Commit them for the group. Should this fail, the state is still complete: `run` on it
  //    reads the topics from the start and skips every offset the checkpoints already hold.
  const commit = await KafkaConnection.open({ brokers: opts.brokers, security: opts.security?.kafka, verbose: opts.verbose });
  try {
    for (const { topic } of engine) {
      const mine = offsets.filter((o) => o.topic === topic).map(({ partition, offset }) => ({ partition, offset }));
      if (mine.length === 0) continue;
      const r = await commitGroupOffsets(commit, group, topic, mine, { onlyIfNone: opts.force !== true });
      if (!r.written) {
        throw committedError(
          group,
          r.previous.map((p) => ({ source: engine.find((s) => s.topic === topic)!.source, topic, ...p })),
          `the state in ${stateDir} is complete (another consumer committed them while the replay ran): run it under another --group, which reads the topics from the start and skips every offset the state already holds`,
        );
      }
    }
  } finally {
    await commit.close();
  }

  return { version: plan.version, group, stateDir, out: tempOut ? undefined : out, replay, offsets, replaced };
}

function committedError(group: string, committed: readonly HandoffOffset[], advice: string): Error {
  return new Error(
    `consumer group "${group}" already has committed offsets (${describe(committed)}): a live worker on it would resume from those, ` +
      `not from the bootstrapped state; ${advice}`,
  );
}
