/**
 * Opens a live task's local store so that it reflects exactly the task's last committed
 * batch: the changelog decides. The local LevelDB records which changelog offset it reflects;
 * when it is missing, behind, of another format or unreadable, it is caught up from or rebuilt
 * out of the changelog (read_committed, after the task's producer fenced any earlier owner, so
 * none of this task's transactions is pending). Ahead of the changelog's committed end, it is
 * kept under exactly-once and the open waits (ChangelogUndecidedError). A store that was never
 * in a changelog seeds an empty one. A changelog whose checkpoints are of another state format
 * (an older build wrote them) is refused: every restore would read the same records
 * (ChangelogFormatError).
 */
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { KafkaRecord, LiveCluster } from './live-cluster.js';
import { LevelBackend, StoreUnavailableError, type BatchOp } from '../../state/state-backend.js';
import { PartialCheckpointError } from '../../engine/task.js';
import { decodeLocalMeta, encodeLocalMeta, localKey, metaKey, partialCheckpointKey, regroupMetaKey, STATE_FORMAT } from '../../state/task-state-keys.js';
import { taskStateDir } from '../../state/task-state-dir.js';
import { formatCount, formatRate, formatSeconds } from '../../io/number-format.js';

export interface TaskStoreContext {
  readonly cluster: LiveCluster;
  readonly stateDir: string;
  readonly changelog: string;
  readonly version: string;
  /**
   * Exactly-once: every committed batch ends with a transaction marker, so a store whose next
   * offset is the end's predecessor (the marker of its own last batch) is current.
   */
  readonly exactlyOnce: boolean;
  /** The topology regroups by another entity: each task's store holds its regroup partition's state beside its own. */
  readonly regrouped?: { readonly topology: string };
  readonly log: (line: string) => void;
  /** Restore progress, for metrics. */
  readonly onRestore?: (partition: number, records: number, seconds: number) => void;
  /** While a task's store is restored or caught up: changelog offsets applied of those to apply, for a progress display. */
  readonly onRestoreProgress?: (partition: number, applied: number, total: number) => void;
}

/**
 * A replay's state of a regrouped topology without its regrouped part: `backfill --state` keeps
 * the origin tasks' state only, and `bootstrap` writes the regrouped part last. Published as it
 * is, live would answer every regrouped feature as if the history held no event.
 */
export class MissingRegroupedStateError extends Error {
  constructor(partition: number, dir: string, topology: string) {
    super(
      `state of task ${partition} in ${dir} holds no regrouped state, though ${topology} regroups by another entity: it was written by a backfill, which keeps the origin tasks' state only. ` +
        'Run `skewless bootstrap` into a new --state to build both (it hands the regrouped state over too)',
    );
    this.name = 'MissingRegroupedStateError';
  }
}

export interface OpenedStore {
  readonly backend: LevelBackend;
  /** The store holds state that no changelog has yet: the first commit must publish all of it. */
  readonly seedChangelog: boolean;
  /** Changelog records applied to get here (0 when the local copy was current). */
  readonly restoredRecords: number;
  /** Every entry was just rebuilt from the changelog: state the engine cannot read would come back the same from another rebuild. */
  readonly rebuilt: boolean;
}

/** Another process holds the store's lock (a worker on the same --state root still closing it). */
export class StoreLockedError extends Error {}

/**
 * The task's changelog partition holds checkpoints of a state format this build does not read
 * (an older build ran the group): restoring again reads the same records, so this never clears.
 */
export class ChangelogFormatError extends Error {
  constructor(
    readonly changelog: string,
    readonly partition: number,
    /** The format the changelog's last checkpoint claims. */
    readonly format: number,
  ) {
    super(`changelog ${changelog} partition ${partition} holds state format ${format}, this build reads ${STATE_FORMAT}`);
    this.name = 'ChangelogFormatError';
  }
}

/**
 * Exactly-once: records of the task's changelog partition are undecided (its committed end is
 * below its high watermark). A read_committed end stops at the first record of a transaction
 * that has not ended; after a broker restart the markers of transactions decided before the
 * crash are written only once the coordinator has reloaded them. Until they are, the task
 * neither rebuilds from the shorter changelog (an older state whose inputs it would serve again)
 * nor commits on top: Kafka keeps one open transaction per producer and partition, so the task's
 * next marker would decide its own undecided records with that transaction's outcome (a failed
 * batch's records as committed, or a committed batch's as aborted). The open is retried until
 * they are decided (retriable; the worker's failure deadline bounds the wait).
 */
export class ChangelogUndecidedError extends Error {
  constructor(
    readonly changelog: string,
    readonly partition: number,
    readonly end: number,
    /** The high watermark: records written up to here, decided or not. */
    readonly high: number,
    readonly taskDir: string,
    /** What the partition shows about the cause (see undecidedCause). */
    readonly undecidedCause: string,
    /** The local copy reflects changelog records past the committed end (a batch whose commit was acknowledged). */
    readonly localAhead: boolean,
  ) {
    super(
      `changelog ${changelog} partition ${partition}: its committed records end at offset ${end}, its records at ${high}: ${undecidedCause}; ` +
        'waiting for it to be decided (after a broker restart the coordinator writes the commit markers of transactions decided before it) instead of rebuilding an older state or committing on top. ' +
        'If this never clears, either a transaction hangs on the partition (find the hanging transactions with kafka-transactions.sh find-hanging and abort each of them) ' +
        `or the broker lost committed records; either way then delete ${taskDir} so that the task rebuilds from what the changelog holds (the local copy holds a batch the changelog does not)`,
    );
    this.name = 'ChangelogUndecidedError';
  }
}

/**
 * Exactly-once, records of the changelog partition undecided: what the partition shows about
 * why. The local copy was written only once its batch's commit was acknowledged, so that batch
 * is committed. A restarted lone broker's coordinator can record a transaction complete while
 * skipping the markers of partitions that had no leader for a moment (README, How state moves
 * between hosts); nothing writes them later. The task's own committed batch then starts exactly
 * at the committed end; records past the local copy are a batch that failed (its commit was
 * never acknowledged). The task does not decide them itself: only its next transaction could,
 * with its own outcome.
 */
function undecidedCause(end: number, high: number, local: LocalState | undefined): string {
  const next = local?.changelogNext ?? null;
  if (next !== null && high < next) return `the partition holds records up to offset ${high} only, fewer than this task committed (up to ${next}): the broker lost records of committed batches`;
  if (next !== null && next > end && local?.changelogFirst === end) {
    return `this task's last committed batch (offsets ${end}..${next - 1}) is undecided: its commit markers are late or lost (a lone broker restarted after a crash can lose them)`;
  }
  if (next !== null && next <= end + 1) {
    return `records after this task's last committed batch are undecided: a batch whose commit failed, its abort markers late or lost (a lone broker restarted after a crash can lose them)`;
  }
  return `a transaction on the partition is undecided from offset ${end}`;
}

export async function openBackend(dir: string): Promise<LevelBackend> {
  try {
    return await LevelBackend.open(dir);
  } catch (e) {
    // A full disk can refuse the LOCK file itself: that is no other process holding the store.
    if (e instanceof StoreUnavailableError) throw e;
    const text = e instanceof Error ? e.message : String(e);
    if (/lock|temporarily unavailable/i.test(text)) throw new StoreLockedError(text);
    throw e;
  }
}

export interface LocalState {
  /** Parsed checkpoint fields that matter here, or undefined when there is none. */
  readonly meta?: { readonly format: number; readonly version: string };
  readonly changelogNext: number | null;
  readonly changelog: string | null;
  /** First changelog offset of the last batch committed from this store (see LocalStateMeta). */
  readonly changelogFirst?: number;
  /** Why the local copy cannot be used at all (unreadable), if so. */
  readonly unusable?: string;
  /** A checkpoint written in several batches stopped part way (Task.checkpoint): the copy mixes two. */
  readonly partial?: boolean;
}

/** The format (1 when absent: the first builds wrote none) and version of a checkpoint record, a task's or a regroup partition's; throws when it is not JSON. */
function checkpointHead(bytes: Uint8Array): { readonly format: number; readonly version: string } {
  const meta = JSON.parse(new TextDecoder().decode(bytes)) as { format?: number; version?: string };
  return { format: meta.format ?? 1, version: String(meta.version) };
}

/**
 * What a local copy is worth against `changelog`: usable from its changelog offset `next` on, or
 * why not (unreadable, missing, of another state format, or not written through this changelog:
 * a replay's or another group's, of `version`). The task's open and a standby copy judge a copy
 * alike; only the open treats a missing or foreign copy specially while the changelog is empty.
 */
export type LocalCopy =
  | { readonly kind: 'usable'; readonly next: number }
  | { readonly kind: 'unreadable' | 'missing' | 'format'; readonly reason: string }
  | { readonly kind: 'foreign'; readonly reason: string; readonly version: string };

export function judgeLocalCopy(local: LocalState, changelog: string): LocalCopy {
  if (local.unusable !== undefined) return { kind: 'unreadable', reason: `the local store is unreadable (${local.unusable})` };
  if (local.meta === undefined) return { kind: 'missing', reason: 'there is no local copy' };
  if (local.meta.format !== STATE_FORMAT) return { kind: 'format', reason: `the local copy has state format ${local.meta.format}, this build uses ${STATE_FORMAT}` };
  if (local.changelog !== changelog || local.changelogNext === null) return { kind: 'foreign', reason: `the local copy was not written through changelog ${changelog}`, version: local.meta.version };
  return { kind: 'usable', next: local.changelogNext };
}

export async function readLocal(backend: LevelBackend, partition: number): Promise<LocalState> {
  try {
    const [metaBytes, localBytes, partialBytes] = await backend.getMany([metaKey(partition), localKey(partition), partialCheckpointKey(partition)]);
    const local = decodeLocalMeta(localBytes);
    const partial = partialBytes !== undefined;
    if (metaBytes === undefined) return { changelogNext: null, changelog: null, partial };
    return { meta: checkpointHead(metaBytes), changelogNext: local?.changelogNext ?? null, changelog: local?.changelog ?? null, changelogFirst: local?.changelogFirst, partial };
  } catch (e) {
    return { changelogNext: null, changelog: null, unusable: e instanceof Error ? e.message : String(e) };
  }
}

export async function openTaskStore(ctx: TaskStoreContext, partition: number, forceRebuild = false): Promise<OpenedStore> {
  const dir = taskStateDir(ctx.stateDir, partition);
  const end = (await ctx.cluster.endOffsets(ctx.changelog)).get(partition) ?? 0;
  // Without transactions every record is decided: the two ends are one.
  const high = ctx.exactlyOnce ? await ctx.cluster.highWatermark(ctx.changelog, partition) : end;
  let backend: LevelBackend | undefined;
  let reason: string | undefined = forceRebuild ? 'the local copy proved unusable (the error above)' : undefined;
  if (reason === undefined) {
    try {
      backend = await openBackend(dir);
    } catch (e) {
      // A store the machine refuses (a full disk) is not damaged: deleting it would only turn a
      // wait for space into a restore from the changelog, which needs the same space.
      if (e instanceof StoreLockedError || e instanceof StoreUnavailableError) throw e;
      reason = `the local store cannot be opened (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  if (backend !== undefined) {
    const local = await readLocal(backend, partition);
    if (local.partial === true && end === 0) {
      // A replay's or bootstrap's state cut short, and no changelog to take the task from: it is
      // the only copy there is, so neither published nor deleted for an empty rebuild.
      await backend.close();
      throw new PartialCheckpointError(partition);
    }
    const ahead = local.meta?.format === STATE_FORMAT && local.changelog === ctx.changelog && local.changelogNext !== null && local.changelogNext > end;
    if (ctx.exactlyOnce && (high > end || ahead)) {
      await backend.close();
      throw new ChangelogUndecidedError(ctx.changelog, partition, end, high, dir, undecidedCause(end, high, local), ahead);
    }
    const copy = judgeLocalCopy(local, ctx.changelog);
    if (copy.kind === 'missing' && end === 0) return { backend, seedChangelog: false, restoredRecords: 0, rebuilt: false };
    if (copy.kind === 'foreign' && end === 0) {
      // Written by replay/bootstrap, or by at-least-once runs of another group: authoritative only if the changelog is empty.
      if (copy.version !== ctx.version) return { backend, seedChangelog: false, restoredRecords: 0, rebuilt: false }; // Task.open refuses it with what changed.
      if (ctx.regrouped !== undefined && (await backend.getMany([regroupMetaKey(partition)]))[0] === undefined) {
        await backend.close();
        throw new MissingRegroupedStateError(partition, dir, ctx.regrouped.topology);
      }
      ctx.log(`skewless: task ${partition}: local state is not in changelog ${ctx.changelog} yet; publishing it with the first commit`);
      return { backend, seedChangelog: true, restoredRecords: 0, rebuilt: false };
    }
    if (copy.kind !== 'usable') reason = copy.reason;
    else if (copy.next > end) {
      // At-least-once writes no transactions (exactly-once waited above): the changelog lost records (recreated, unclean leader election).
      reason = `the local copy (changelog offset ${copy.next}) is ahead of the committed changelog (end ${end})`;
    } else if (end - copy.next <= (ctx.exactlyOnce ? 1 : 0)) return { backend, seedChangelog: false, restoredRecords: 0, rebuilt: false };
    else {
      // Behind: another worker committed batches of this task since; apply just those.
      try {
        const n = await applyChangelog(ctx, partition, backend, copy.next, end, 'catching up');
        await refuseOtherFormat(ctx, partition, backend);
        return { backend, seedChangelog: false, restoredRecords: n, rebuilt: false };
      } catch (e) {
        await backend.close().catch(() => undefined);
        throw e;
      }
    }
    await backend.close();
    backend = undefined;
  }
  if (high > end) throw new ChangelogUndecidedError(ctx.changelog, partition, end, high, dir, undecidedCause(end, high, undefined), false);
  ctx.log(`skewless: task ${partition}: rebuilding local state from changelog ${ctx.changelog} (${formatCount(end)} offsets) because ${reason}`);
  rmSync(dir, { recursive: true, force: true });
  backend = await openBackend(dir);
  try {
    const n = await applyChangelog(ctx, partition, backend, 0, end, 'restoring');
    await refuseOtherFormat(ctx, partition, backend);
    return { backend, seedChangelog: false, restoredRecords: n, rebuilt: true };
  } catch (e) {
    await backend.close().catch(() => undefined);
    throw e;
  }
}

/**
 * After changelog records were applied: the task's checkpoints (its own and its regroup
 * partition's) must be of this build's format. One of another format came from the changelog
 * (a local copy of another format is rebuilt before anything is applied to it), and is what
 * every later restore would read too. An unreadable checkpoint is left to the engine's open,
 * which says what is wrong with it.
 */
async function refuseOtherFormat(ctx: TaskStoreContext, partition: number, backend: LevelBackend): Promise<void> {
  for (const bytes of await backend.getMany([metaKey(partition), regroupMetaKey(partition)])) {
    if (bytes === undefined) continue;
    let format: number;
    try {
      format = checkpointHead(bytes).format;
    } catch {
      continue;
    }
    if (format !== STATE_FORMAT) throw new ChangelogFormatError(ctx.changelog, partition, format);
  }
}

/** The store operations changelog records stand for (records without a key are not the task's). */
export function changelogOps(records: readonly KafkaRecord[], into: BatchOp[] = []): BatchOp[] {
  for (const r of records) {
    if (r.key === null) continue;
    const key = r.key.toString('utf8');
    into.push(r.value === null ? { type: 'del', key } : { type: 'put', key, value: new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength) });
  }
  return into;
}

/** Apply the changelog's committed records in [from, end) to the store, then record `end` as reflected. */
async function applyChangelog(ctx: TaskStoreContext, partition: number, backend: LevelBackend, from: number, end: number, what: string): Promise<number> {
  const t0 = performance.now();
  let records = 0;
  let lastLog = t0;
  if (end > from) {
    ctx.onRestoreProgress?.(partition, 0, end - from);
    for await (const batch of ctx.cluster.readRange(ctx.changelog, partition, from, end)) {
      await backend.write(changelogOps(batch));
      records += batch.length;
      ctx.onRestoreProgress?.(partition, batch[batch.length - 1].offset + 1 - from, end - from);
      const now = performance.now();
      if (now - lastLog > 5000) {
        lastLog = now;
        ctx.log(`skewless: task ${partition}: ${what} from ${ctx.changelog}: ${formatCount(records)} records, offset ${formatCount(batch[batch.length - 1].offset + 1)} of ${formatCount(end)}`);
      }
    }
  }
  await backend.write([{ type: 'put', key: localKey(partition), value: encodeLocalMeta({ changelogNext: end, changelog: ctx.changelog }) }]);
  // Offsets past the last record (transaction markers) are applied too: the task is done.
  if (end > from) ctx.onRestoreProgress?.(partition, end - from, end - from);
  const seconds = (performance.now() - t0) / 1000;
  ctx.onRestore?.(partition, records, seconds);
  if (records > 0 || end > from) {
    ctx.log(`skewless: task ${partition}: ${what} done: ${formatCount(records)} changelog records in ${formatSeconds(seconds)}${seconds > 0 ? ` (${formatRate(records / seconds, 'records')})` : ''}`);
  }
  return records;
}
