/**
 * Why a sampled vector may differ from its recomputation, where the engine knows (DESIGN.md,
 * "Parity"): it was served by another topology version; its task had skipped an idle input
 * live (a merge skip, which replay never does); or its key had records that live treated as
 * late but replay did not (or the reverse), so one side's windows held a record the other's
 * did not.
 */
import type { LateLiveEntry, ParityEntry } from './parity-log.js';

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
  /** Late offline, not live, for keys in the parity log (only when the log records late markers). */
  readonly offlineOnly: readonly LateOfflineRecord[];
  /** Late on both sides: cannot explain a difference. */
  readonly both: number;
}

const at = (source: string, partition: number, offset: number): string => `${source}\u0000${partition}\u0000${offset}`;

/**
 * Pairs the late records of sampled keys: live markers by their topic (mapped to the source
 * name), offline records by source. Offline records are only compared for keys the log sampled.
 */
export function compareLate(
  live: readonly LateLiveEntry[],
  offline: readonly LateOfflineRecord[],
  sourceOfTopic: ReadonlyMap<string, string>,
  sampledKeys: ReadonlySet<string>,
): LateComparison {
  const offlineAt = new Set(offline.map((r) => at(r.source, r.partition, r.offset)));
  const liveAt = new Set<string>();
  const liveOnly: LateLiveEntry[] = [];
  let both = 0;
  for (const l of live) {
    const id = at(sourceOfTopic.get(l.topic) ?? l.topic, l.partition, l.offset);
    liveAt.add(id);
    if (offlineAt.has(id)) both++;
    else liveOnly.push(l);
  }
  // Logs written before late markers existed hold none: offline-only would then be everything.
  const offlineOnly = live.length === 0 ? [] : offline.filter((r) => sampledKeys.has(r.key) && !liveAt.has(at(r.source, r.partition, r.offset)));
  return { liveOnly, offlineOnly, both };
}

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

  explain(e: ParityEntry): string | null {
    const why: string[] = [];
    if (e.version !== this.checkedVersion) why.push(`served by version ${e.version}, checked against ${this.checkedVersion}`);
    if (e.mergeSkips > 0) why.push(`served after ${e.mergeSkips} merge skip${e.mergeSkips === 1 ? '' : 's'} on partition ${e.partition} (live skipped an idle input; replay merges canonically)`);
    // A late record can only have touched windows of the same key ending at or after its event time.
    const liveOnly = (this.liveOnlyByKey.get(e.key) ?? []).filter((l) => l.partition === e.partition && l.eventTime <= e.eventTime);
    if (liveOnly.length > 0) why.push(`${liveOnly.length} earlier record${liveOnly.length === 1 ? '' : 's'} of key ${e.key} late live but not in replay (first ${liveOnly[0].topic}/${liveOnly[0].partition}@${liveOnly[0].offset})`);
    const offlineOnly = (this.offlineOnlyByKey.get(e.key) ?? []).filter((r) => r.partition === e.partition && r.eventTime <= e.eventTime);
    if (offlineOnly.length > 0) why.push(`${offlineOnly.length} earlier record${offlineOnly.length === 1 ? '' : 's'} of key ${e.key} late in replay but not live (first ${offlineOnly[0].source}/${offlineOnly[0].partition}@${offlineOnly[0].offset})`);
    return why.length === 0 ? null : why.join('; ');
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
