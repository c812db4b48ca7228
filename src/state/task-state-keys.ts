/**
 * The one owner of a task's state key layout. The same keys name entries in the task's
 * LevelDB and records in its changelog partition, so a restore copies records verbatim.
 *
 *   p<n>/meta                          positions, stream time, counters (JSON, every checkpoint)
 *   p<n>/plan                          canonical plan that wrote the state (JSON, once)
 *   p<n>/t/<group>/<len>:<key>/h       a lookback timeline's head: clocks, running accumulators, tiles
 *   p<n>/t/<group>/<len>:<key>/e/<ts>  a segment: the events one checkpoint added (named by its first event's sortable time + apply sequence)
 *   p<n>/w/<op>/<key>                  one key's open windows
 *   p<n>/wc/<op>/<close>/<key>         the close index: a key with open windows, under the earliest close time (end + grace) among them
 *   p<n>/v/<table>/<len>:<key>/<ts>    one version of a table key (its values), named by its validity time + apply sequence
 *   p<n>/local                         local-only: which changelog offset the copy reflects (never in the changelog)
 *   p<n>/partial                       present only while a checkpoint written in several batches is half written (Task.checkpoint)
 *
 * Entity keys are length-prefixed so no key's entries share a prefix with another key's.
 * Segment names sort by their first event's (event time, sequence), the timeline's own order,
 * so a prefix scan returns a timeline's segments nearly in order (src/time/event-segments.ts).
 */

/** Bump when the encoding of any entry changes: a store of another format is restored, never read. */
export const STATE_FORMAT = 4;

export const metaKey = (p: number): string => `p${p}/meta`;
export const planKey = (p: number): string => `p${p}/plan`;
export const localKey = (p: number): string => `p${p}/local`;
export const partialCheckpointKey = (p: number): string => `p${p}/partial`;
/** Every entry of a task, local-only ones included. */
export const taskPrefix = (p: number): string => `p${p}/`;

const entity = (key: string): string => `${key.length}:${key}`;

/** Every timeline entry of a task, all groups. */
export const timelinesPrefix = (p: number): string => `p${p}/t/`;
export const timelinePrefix = (p: number, group: string, key: string): string => `${timelinesPrefix(p)}${group}/${entity(key)}/`;

/**
 * `<name>/<len>:<key>/<tail>` after `prefix`: the name (group and table names hold no '/'), the
 * entity key (length-prefixed, so it may) and what follows it; undefined for any other key.
 */
function parseEntityKey(prefix: string, storeKey: string): { readonly name: string; readonly key: string; readonly tail: string } | undefined {
  if (!storeKey.startsWith(prefix)) return undefined;
  const slash = storeKey.indexOf('/', prefix.length);
  const colon = storeKey.indexOf(':', slash + 1);
  if (slash < 0 || colon < 0) return undefined;
  const length = Number(storeKey.slice(slash + 1, colon));
  const end = colon + 1 + length;
  if (!Number.isSafeInteger(length) || storeKey[end] !== '/') return undefined;
  return { name: storeKey.slice(prefix.length, slash), key: storeKey.slice(colon + 1, end), tail: storeKey.slice(end + 1) };
}

/** The group and entity key of a timeline head's store key (timelineHeadKey), undefined for any other key. */
export function parseTimelineHeadKey(p: number, storeKey: string): { readonly group: string; readonly key: string } | undefined {
  return parseHeadUnder(timelinesPrefix(p), storeKey);
}

function parseHeadUnder(prefix: string, storeKey: string): { readonly group: string; readonly key: string } | undefined {
  const parsed = parseEntityKey(prefix, storeKey);
  return parsed === undefined || parsed.tail !== 'h' ? undefined : { group: parsed.name, key: parsed.key };
}

function parseVersionUnder(prefix: string, storeKey: string): { readonly table: string; readonly key: string; readonly t: number } | undefined {
  const parsed = parseEntityKey(prefix, storeKey);
  return parsed === undefined || parsed.tail.length === 0 ? undefined : { table: parsed.name, key: parsed.key, t: parseEventSuffix(parsed.tail)[0] };
}

/** Every table version of a task, all tables. */
export const tableVersionsPrefix = (p: number): string => `p${p}/v/`;

/** The table, entity key and validity time of a table version's store key, undefined for any other key. */
export function parseVersionKey(p: number, storeKey: string): { readonly table: string; readonly key: string; readonly t: number } | undefined {
  return parseVersionUnder(tableVersionsPrefix(p), storeKey);
}
export const timelineHeadKey = (p: number, group: string, key: string): string => `${timelinePrefix(p, group, key)}h`;
export const timelineEventsPrefix = (p: number, group: string, key: string): string => `${timelinePrefix(p, group, key)}e/`;
export const windowPrefix = (p: number, op: string): string => `p${p}/w/${op}/`;
export const versionsPrefix = (p: number, table: string, key: string): string => `p${p}/v/${table}/${entity(key)}/`;
export const windowKey = (p: number, op: string, key: string): string => `${windowPrefix(p, op)}${key}`;
/** A window operator's close index (Task.loadWindowKeys): its keys by the earliest close time of their windows. */
export const windowClosePrefix = (p: number, op: string): string => `p${p}/wc/${op}/`;
/** The sortable name of a close time (eventSuffix's time part, 16 hex digits). */
const closeName = (t: number): string => eventSuffix(t, 0).slice(0, 16);
export const windowCloseKey = (p: number, op: string, close: number, key: string): string => `${windowClosePrefix(p, op)}${closeName(close)}/${key}`;
/** Sorts after every close index key of times up to `t` and before every later one ('0' follows the '/' after a name). */
export const windowCloseAfter = (p: number, op: string, t: number): string => `${windowClosePrefix(p, op)}${closeName(t)}0`;
/** The entity key of a close index key. */
export const parseWindowCloseKey = (p: number, op: string, storeKey: string): string => storeKey.slice(windowClosePrefix(p, op).length + 17);

/**
 * A RegroupedTask's entries, beside the origin tasks' under their own prefix r<n>/ so both can
 * share a store and, live, a changelog layout:
 *
 *   r<n>/meta                          watermarks per upstream, sequence (JSON, every checkpoint)
 *   r<n>/t/<group>/<len>:<key>/h       a regrouped key's timeline head (same encoding as above)
 *   r<n>/t/<group>/<len>:<key>/e/<ts>  a segment of buffered events
 *   r<n>/q/<arrival>                   the messages held since one checkpoint (named by the arrival count then), until all are released
 *   r<n>/v/<table>/<len>:<key>/<ts>    one version of a key of a table keyed by another entity (as p<n>/v/ above)
 */
export const regroupMetaKey = (r: number): string => `r${r}/meta`;
/** Every timeline entry of a regroup partition, all groups. */
export const regroupTimelinesPrefix = (r: number): string => `r${r}/t/`;
export const regroupTimelinePrefix = (r: number, group: string, key: string): string => `${regroupTimelinesPrefix(r)}${group}/${entity(key)}/`;
/** Every table version of a regroup partition, all tables. */
export const regroupTablesPrefix = (r: number): string => `r${r}/v/`;

/** The group and entity key of a regrouped timeline head's store key, undefined for any other key. */
export function parseRegroupTimelineHeadKey(r: number, storeKey: string): { readonly group: string; readonly key: string } | undefined {
  return parseHeadUnder(regroupTimelinesPrefix(r), storeKey);
}

/** The table, entity key and validity time of a regroup partition's table version, undefined for any other key. */
export function parseRegroupVersionKey(r: number, storeKey: string): { readonly table: string; readonly key: string; readonly t: number } | undefined {
  return parseVersionUnder(regroupTablesPrefix(r), storeKey);
}
export const regroupHeldPrefix = (r: number): string => `r${r}/q/`;
export const regroupVersionsPrefix = (r: number, table: string, key: string): string => `${regroupTablesPrefix(r)}${table}/${entity(key)}/`;
export const regroupHeldKey = (r: number, arrival: number): string => `${regroupHeldPrefix(r)}${arrival.toString(16).padStart(14, '0')}`;

/**
 * Live only, a task's rows waiting for regrouped answers (src/engine/durable-row-assembler.ts)
 * and where its reading of the internal regroup topics stands:
 *
 *   a<n>/meta                          next row sequence, rows emitted, internal topic positions (JSON)
 *   a<n>/r/<seq>                       the partial rows one checkpoint added (with their events when needed), from row seq
 *   a<n>/q/<seq>                       the answers one checkpoint received for rows still waiting
 */
export const assemblerMetaKey = (p: number): string => `a${p}/meta`;
export const assemblerRowsPrefix = (p: number): string => `a${p}/r/`;
export const assemblerAnswersPrefix = (p: number): string => `a${p}/q/`;
const seqName = (seq: number): string => seq.toString(16).padStart(14, '0');
export const assemblerRowsKey = (p: number, seq: number): string => `${assemblerRowsPrefix(p)}${seqName(seq)}`;
export const assemblerAnswersKey = (p: number, seq: number): string => `${assemblerAnswersPrefix(p)}${seqName(seq)}`;

/** Every prefix a live task's entries live under: its own, its regroup partition's, its row assembler's. */
export const taskPrefixes = (p: number): readonly string[] => [taskPrefix(p), `r${p}/`, `a${p}/`];

const f64 = new DataView(new ArrayBuffer(8));

/**
 * Sortable suffix of one event: the float64 bits of its time made order-preserving (sign bit
 * flipped for positives, every bit for negatives), then 14 hex digits of its sequence. Exact
 * for every time a record can carry, so the key alone gives the event back.
 */
export function eventSuffix(t: number, seq: number): string {
  f64.setFloat64(0, t);
  let hi = f64.getUint32(0);
  let lo = f64.getUint32(4);
  if (hi & 0x80000000) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else hi = (hi | 0x80000000) >>> 0;
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0') + seq.toString(16).padStart(14, '0');
}

/** (time, sequence) of an event suffix written by eventSuffix. */
export function parseEventSuffix(suffix: string): [number, number] {
  let hi = parseInt(suffix.slice(0, 8), 16);
  let lo = parseInt(suffix.slice(8, 16), 16);
  if (hi & 0x80000000) hi = (hi & 0x7fffffff) >>> 0;
  else {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  }
  f64.setUint32(0, hi);
  f64.setUint32(4, lo);
  return [f64.getFloat64(0), parseInt(suffix.slice(16), 16)];
}

export function timelineEventKey(p: number, group: string, key: string, t: number, seq: number): string {
  return timelineEventsPrefix(p, group, key) + eventSuffix(t, seq);
}

/** Local-only record of which changelog records the store reflects. */
export interface LocalStateMeta {
  /** Offset right after the last changelog record this store reflects; null when it was never in a changelog. */
  readonly changelogNext: number | null;
  /** The changelog topic it refers to. */
  readonly changelog: string | null;
  /**
   * Offset of the first changelog record of the last batch committed from this store (exactly-once),
   * when known: with changelogNext it says which undecided records are this task's own committed batch.
   */
  readonly changelogFirst?: number;
}

export function encodeLocalMeta(m: LocalStateMeta): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}

export function decodeLocalMeta(bytes: Uint8Array | undefined): LocalStateMeta | undefined {
  if (bytes === undefined) return undefined;
  const m = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LocalStateMeta>;
  const first = typeof m.changelogFirst === 'number' ? { changelogFirst: m.changelogFirst } : {};
  return { changelogNext: m.changelogNext ?? null, changelog: m.changelog ?? null, ...first };
}

/** Is this a local-only key (never written to the changelog)? */
export const isLocalOnlyKey = (p: number, key: string): boolean => key === localKey(p);
