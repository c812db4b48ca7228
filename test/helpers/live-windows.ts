/**
 * Window records served live against the rows a replay computes: every window the replay closes
 * (final = true) served once, byte for byte, in its input's partition. A replay's rows of windows
 * still open at the end of its input (final = false) are not served: a live worker closes them
 * when stream time passes them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import type { WindowOpProgram } from '../../src/engine/program.js';
import { windowRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import { copiesById, expectedWireBytes, plainValue, readDecodedTopic } from './live-run.js';

export interface LiveWindow {
  /** Kafka partition the record is in. */
  readonly partition: number;
  /** `<partition>/<key>/<window start>/<window end>` from its value, or `undecodable@…`. */
  readonly id: string;
  readonly bytes: Buffer;
  readonly value: Record<string, unknown> | undefined;
}

export interface WindowComparison {
  /** Windows the replay closed. */
  readonly expected: number;
  readonly liveRecords: number;
  /** Closed windows never served. */
  readonly lost: number;
  /** Windows served more than once. */
  readonly duplicates: number;
  /** Windows with a served copy whose bytes differ from the replayed row (or undecodable). */
  readonly divergent: number;
  /** Served windows the replay has no closed row for, or served as not final. */
  readonly unexpected: number;
  readonly examples: readonly string[];
}

const time = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));
const windowId = (partition: unknown, key: unknown, start: unknown, end: unknown): string => `${Number(partition)}/${String(key)}/${time(start)}/${time(end)}`;

/** Every record of a window output's topic, read_committed. */
export async function readLiveWindows(brokers: readonly string[], registryUrl: string, w: WindowOpProgram, topic: string): Promise<LiveWindow[]> {
  const records = await readDecodedTopic(brokers, registryUrl, windowRecordSchema(w.name, w.columns), topic);
  return records.map((r) => ({
    partition: r.partition,
    id: r.value ? windowId(r.value.partition, r.value.key, r.value.window_start, r.value.window_end) : `undecodable@${r.partition}/${r.offset}`,
    bytes: r.bytes,
    value: r.value,
  }));
}

/** The closed windows (final = true) of a replay's window output, by windowId. */
export async function readReplayWindows(out: string, name: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = new Map<string, Record<string, unknown>>();
  let dir: string[];
  try {
    dir = readdirSync(join(out, name));
  } catch {
    return rows;
  }
  for (const f of dir.filter((x) => x.endsWith('.parquet')).sort()) {
    const buf = readFileSync(join(out, name, f));
    for (const row of await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer })) {
      if (row.final === true) rows.set(windowId(row.partition, row.key, row.window_start, row.window_end), row);
    }
  }
  return rows;
}

/** Served window records against the replay's closed windows (readReplayWindows). */
export function compareWindows(live: readonly LiveWindow[], replayed: ReadonlyMap<string, Record<string, unknown>>, w: WindowOpProgram): WindowComparison {
  const expectedBytesOf = expectedWireBytes(windowRecordSchema(w.name, w.columns));
  const byId = copiesById(live);
  const examples: string[] = [];
  const note = (s: string): void => void (examples.length < 10 && examples.push(s));
  let lost = 0;
  let duplicates = 0;
  let divergent = 0;
  for (const [id, row] of replayed) {
    const copies = byId.get(id);
    if (!copies) {
      lost++;
      note(`${id}: not served`);
      continue;
    }
    if (copies.length > 1) duplicates++;
    const record: Record<string, unknown> = { key: row.key, window_start: time(row.window_start), window_end: time(row.window_end), partition: Number(row.partition), final: true };
    for (const c of w.columns) record[c.name] = plainValue(row[c.name]);
    for (const copy of copies) {
      const expected = expectedBytesOf(copy.bytes, record);
      if (expected !== undefined && copy.bytes.equals(expected) && copy.partition === record.partition) continue;
      divergent++;
      note(`${id}: served ${JSON.stringify(copy.value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))} against ${JSON.stringify(record)}`);
      break;
    }
  }
  let unexpected = 0;
  for (const id of byId.keys()) {
    if (replayed.has(id)) continue;
    unexpected++;
    note(`${id}: served, not a window the replay closed`);
  }
  return { expected: replayed.size, liveRecords: live.length, lost, duplicates, divergent, unexpected, examples };
}
