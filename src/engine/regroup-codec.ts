import { Categorized, type AggValue } from '../ops/aggregation.js';
import { ByteReader, ByteWriter } from '../state/codec.js';
import type { PartialRow, RegroupAnswer, RegroupMessage, RowRef } from './regroup-messages.js';

/**
 * Binary encoding of regroup messages and answers: for a RegroupedTask's held items in its
 * state, replay's spill files and, next, repartition topics. Numbers are raw float64, so a
 * value crosses bit for bit (-0 included).
 */

const UPDATE = 1;
const QUERY = 2;
const WATERMARK = 3;
const IDLE = 4;

const SCALAR = 0;
const LIST = 1;
const MAP = 2;
/** A bucketed aggregation's (category, number) event value. */
const PAIR = 3;
/** A map with null values (meanBy): values as scalars. */
const NULLABLE_MAP = 4;

/** Values are scalars or, as results of some aggregations, lists or maps: a tag, then the value. */
export function writeAggValues(w: ByteWriter, values: readonly AggValue[]): void {
  w.uint(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || typeof v !== 'object') {
      w.uint(SCALAR);
      w.scalar(v);
    } else if (v instanceof Categorized) {
      w.uint(PAIR);
      w.str(v.category);
      w.scalar(v.value);
    } else if (Array.isArray(v)) {
      w.uint(LIST);
      w.uint(v.length);
      for (const x of v as ReadonlyArray<number | string>) w.scalar(x);
    } else {
      const entries = Object.entries(v as Readonly<Record<string, number | null>>);
      const nullable = entries.some(([, x]) => x === null);
      w.uint(nullable ? NULLABLE_MAP : MAP);
      w.uint(entries.length);
      for (const [k, x] of entries) {
        w.str(k);
        if (nullable) w.scalar(x);
        else w.f64(x!);
      }
    }
  }
}

export function readAggValues(r: ByteReader): AggValue[] {
  const n = r.uint();
  const values = new Array<AggValue>(n);
  for (let i = 0; i < n; i++) {
    const tag = r.uint();
    if (tag === SCALAR) values[i] = r.scalar();
    else if (tag === LIST) {
      const list: Array<number | string | null> = [];
      for (let j = r.uint(); j > 0; j--) list.push(r.scalar());
      values[i] = list as AggValue;
    } else if (tag === PAIR) {
      const category = r.str();
      const x = r.scalar();
      values[i] = new Categorized(category, typeof x === 'number' ? x : null);
    } else {
      const map: Record<string, number | null> = {};
      for (let j = r.uint(); j > 0; j--) map[r.str()] = tag === NULLABLE_MAP ? (r.scalar() as number | null) : r.f64();
      values[i] = map as AggValue;
    }
  }
  return values;
}

/**
 * The group and key the update or query `r` is at is for, as `group NUL key`, read without
 * decoding the rest (and without moving `r`); undefined for a watermark or an idle mark.
 */
export function regroupMessageTarget(r: ByteReader): { readonly query: boolean; readonly target: string } | undefined {
  return r.peek((at) => {
    const tag = at.uint();
    if (tag !== UPDATE && tag !== QUERY) return undefined;
    const group = at.uint();
    return { query: tag === QUERY, target: regroupQueryTarget(group, at.str()) };
  });
}

/** One regrouped key of one group, as regroupMessageTarget names it. */
export const regroupQueryTarget = (group: number, key: string): string => `${group}\u0000${key}`;

/** Append one message to `w` (the caller resets and takes bytes()). */
export function writeRegroupMessage(w: ByteWriter, m: RegroupMessage): void {
  if (m.kind === 'update') {
    w.uint(UPDATE);
    w.uint(m.group);
    w.str(m.key);
    w.f64(m.t);
    writeAggValues(w, m.vals);
  } else if (m.kind === 'query') {
    w.uint(QUERY);
    w.uint(m.group);
    w.str(m.key);
    w.f64(m.qt);
    writeRowRef(w, m);
    w.uint(m.query);
  } else if (m.kind === 'watermark') {
    w.uint(WATERMARK);
    w.uint(m.upstream);
    w.f64(m.watermark);
  } else {
    w.uint(IDLE);
    w.uint(m.upstream);
    w.uint(m.positions.length);
    for (const p of m.positions) w.uint(p);
  }
}

export function readRegroupMessage(r: ByteReader): RegroupMessage {
  const tag = r.uint();
  if (tag === UPDATE) return { kind: 'update', group: r.uint(), key: r.str(), t: r.f64(), vals: readAggValues(r) };
  if (tag === QUERY) {
    const group = r.uint();
    const key = r.str();
    const qt = r.f64();
    // Fields spelled out, not spread from readRowRef: this runs once per query and object spread is slow.
    return { kind: 'query', group, key, qt, partition: r.uint(), source: r.str(), offset: r.uint(), output: r.uint(), query: r.uint() };
  }
  if (tag === WATERMARK) return { kind: 'watermark', upstream: r.uint(), watermark: r.f64() };
  if (tag === IDLE) {
    const upstream = r.uint();
    const positions: number[] = [];
    for (let n = r.uint(); n > 0; n--) positions.push(r.uint());
    return { kind: 'idle', upstream, positions };
  }
  throw new Error(`regroup message: unknown tag ${tag}`);
}

/** Where an answer goes: shared by queries, answers and partial rows. */
export function writeRowRef(w: ByteWriter, ref: RowRef): void {
  w.uint(ref.partition);
  w.str(ref.source);
  w.uint(ref.offset);
  w.uint(ref.output);
}

export function writeRegroupAnswer(w: ByteWriter, a: RegroupAnswer): void {
  writeRowRef(w, a);
  w.uint(a.query);
  w.uint(a.idleReleases);
  writeAggValues(w, a.values);
}

export function readRegroupAnswer(r: ByteReader): RegroupAnswer {
  return { partition: r.uint(), source: r.str(), offset: r.uint(), output: r.uint(), query: r.uint(), idleReleases: r.uint(), values: readAggValues(r) };
}

/** A partial row without its event (which crosses separately, and only when the row needs it). */
export function writePartialRow(w: ByteWriter, row: PartialRow): void {
  writeRowRef(w, row);
  w.str(row.key);
  w.f64(row.eventTime);
  writeAggValues(w, row.values);
}

export function readPartialRowFields(r: ByteReader, event: Readonly<Record<string, unknown>>): PartialRow {
  // Read in the order writePartialRow wrote (writeRowRef first); no object spread on this path.
  const partition = r.uint();
  const source = r.str();
  const offset = r.uint();
  const output = r.uint();
  const key = r.str();
  const eventTime = r.f64();
  const values = readAggValues(r);
  return { partition, source, offset, output, key, eventTime, values, event };
}
