/**
 * Why a sampled vector may differ from its recomputation, where the engine knows (DESIGN.md,
 * "Parity"): it was served by another topology version; its task had skipped an idle input
 * live (a merge skip, which replay never does); or its key had records that live treated as
 * late but replay did not (or the reverse), so one side's windows held a record the other's
 * did not.
 *
 * Each reason has a cause, worded the same for every vector it applies to so that a report can
 * state it once for a group of rows, and a detail naming this vector's own merge skips or late
 * records.
 */
import { positionId, type LateLiveEntry, type ParityEntry } from './parity-log.js';

/** A record replay treated as late, as the replay's late-record files hold it. */
export interface LateOfflineRecord {
  readonly source: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly eventTime: number;
}

export interface LateComparison {
  /** Late live, not offline: live dropped or side-output a record replay used. */
  readonly liveOnly: readonly LateLiveEntry[];
  /** Late offline, not live, among the records the sampling workers served (see {@link compareLate}). */
  readonly offlineOnly: readonly LateOfflineRecord[];
  /** Late on both sides: cannot explain a difference. */
  readonly both: number;
}

/**
 * Pairs the late records of sampled keys by position: live markers name their topic, offline
 * records their source (read from the topic `sourceOfTopic` maps to it).
 *
 * A record late offline counts as "late in replay but not live" only when the log holds the
 * vector live served for it (`vectorsAt`, positions by topic): a live task that treats a
 * record as late serves no vector for it and logs a marker instead, so a logged vector is the
 * proof that a sampling worker processed the record and did not find it late. Records of
 * sampled keys without either were processed by a worker that did not sample (before the
 * sampling run began, e.g. an earlier run without --parity-rate, or between two sampling
 * runs), or are no longer in the log; the log says nothing about what live did with them.
 */
export function compareLate(
  live: readonly LateLiveEntry[],
  offline: readonly LateOfflineRecord[],
  sourceOfTopic: ReadonlyMap<string, string>,
  vectorsAt: ReadonlySet<string>,
): LateComparison {
  const topicOfSource = new Map([...sourceOfTopic].map(([topic, source]) => [source, topic]));
  const topicOf = (source: string): string => topicOfSource.get(source) ?? source;
  const offlineAt = new Set(offline.map((r) => positionId(topicOf(r.source), r.partition, r.offset)));
  const liveAt = new Set<string>();
  const liveOnly: LateLiveEntry[] = [];
  let both = 0;
  for (const l of live) {
    const id = positionId(l.topic, l.partition, l.offset);
    liveAt.add(id);
    if (offlineAt.has(id)) both++;
    else liveOnly.push(l);
  }
  const offlineOnly = offline.filter((r) => {
    const id = positionId(topicOf(r.source), r.partition, r.offset);
    return vectorsAt.has(id) && !liveAt.has(id);
  });
  return { liveOnly, offlineOnly, both };
}

/** One reason a vector may differ: `cause` is the same for every vector it applies to, `detail` is this vector's. */
export interface MismatchReason {
  readonly cause: string;
  readonly detail: string | null;
}

/** What is known about one vector: the causes (a group's heading), this vector's details, and both in one text. */
export interface MismatchExplanation {
  readonly cause: string;
  readonly detail: string | null;
  readonly explanation: string;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Explains one sampled vector's mismatch; null when nothing the engine knows applies. */
export class MismatchExplainer {
  private readonly liveOnlyByKey = new Map<string, LateLiveEntry[]>();
  private readonly offlineOnlyByKey = new Map<string, LateOfflineRecord[]>();

  constructor(
    private readonly checkedVersion: string,
    late: LateComparison,
  ) {
    for (const l of late.liveOnly) push(this.liveOnlyByKey, l.key, l);
    for (const r of late.offlineOnly) push(this.offlineOnlyByKey, r.key, r);
  }

  reasons(e: ParityEntry): MismatchReason[] {
    const why: MismatchReason[] = [];
    if (e.version !== this.checkedVersion) why.push({ cause: `served by version ${e.version}, checked against ${this.checkedVersion}`, detail: null });
    if (e.mergeSkips > 0) {
      why.push({ cause: 'served after live skipped an idle input (a merge skip; replay always merges its inputs canonically)', detail: `${plural(e.mergeSkips, 'merge skip')} on partition ${e.partition}` });
    }
    if (e.idleReleases > 0) {
      why.push({
        cause: 'its regrouped features were answered after live released past a quiet upstream (an idle release; replay waits for every upstream)',
        detail: `${plural(e.idleReleases, 'idle release')} on the regroup partition that answered`,
      });
    }
    // A late record can only have touched windows of the same key ending at or after its event time.
    const liveOnly = (this.liveOnlyByKey.get(e.key) ?? []).filter((l) => l.partition === e.partition && l.eventTime <= e.eventTime);
    if (liveOnly.length > 0) {
      why.push({ cause: 'an earlier record of its key was late live but not in replay', detail: `${plural(liveOnly.length, 'record')}, first ${liveOnly[0].topic}/${liveOnly[0].partition}@${liveOnly[0].offset}` });
    }
    const offlineOnly = (this.offlineOnlyByKey.get(e.key) ?? []).filter((r) => r.partition === e.partition && r.eventTime <= e.eventTime);
    if (offlineOnly.length > 0) {
      why.push({ cause: 'an earlier record of its key was late in replay but not live', detail: `${plural(offlineOnly.length, 'record')}, first ${offlineOnly[0].source}/${offlineOnly[0].partition}@${offlineOnly[0].offset}` });
    }
    return why;
  }

  explain(e: ParityEntry): MismatchExplanation | null {
    const why = this.reasons(e);
    if (why.length === 0) return null;
    const details = why.flatMap((r) => (r.detail === null ? [] : [r.detail]));
    return {
      cause: why.map((r) => r.cause).join('; '),
      detail: details.length === 0 ? null : details.join('; '),
      explanation: why.map((r) => (r.detail === null ? r.cause : `${r.cause} (${r.detail})`)).join('; '),
    };
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
