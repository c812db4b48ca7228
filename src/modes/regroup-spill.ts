import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { PartialRow, RegroupMessage, RegroupSinks } from '../engine/regroup-messages.js';
import { readPartialRowFields, regroupQueryTarget, writePartialRow, writeRegroupMessage } from '../engine/regroup-codec.js';
import type { Program } from '../engine/program.js';
import { rowNeedsEvent } from '../engine/row-assembler.js';
import { kafkaPartition } from '../io/partitioning.js';
import { ByteReader, ByteWriter } from '../state/codec.js';
import { SpillReader, SpillWriter } from './spill-file.js';

/**
 * Replay's shuffle for regroupings, on disk. Pass 1 (origin tasks) writes, per origin
 * partition P, its messages for regroup partition R to `m-R-from-P.bin` and its partial rows to
 * `rows-P.bin`; pass 2 writes the answers of regroup partition R for P to `a-P-from-R.bin`.
 * When rows are computed for some source keys only (parity's sample), pass 1 also writes the
 * regrouped keys that P's rows query in R to `q-R-from-P.bin` (regroupQueryTarget per frame), so
 * pass 2 knows which keys need state without reading its messages twice.
 * One writer per file, so worker threads never share one.
 */
export const messageFile = (dir: string, regroup: number, origin: number): string => join(dir, `m-${regroup}-from-${origin}.bin`);
export const rowFile = (dir: string, origin: number): string => join(dir, `rows-${origin}.bin`);
export const answerFile = (dir: string, origin: number, regroup: number): string => join(dir, `a-${origin}-from-${regroup}.bin`);
export const queriedFile = (dir: string, regroup: number, origin: number): string => join(dir, `q-${regroup}-from-${origin}.bin`);

const fileSize = (path: string): number => statSync(path, { throwIfNoEntry: false })?.size ?? 0;

/** Per regroup partition: the bytes pass 2 reads (the messages every origin partition sent it). */
export function answerPassWeights(dir: string, partitions: number): number[] {
  return Array.from({ length: partitions }, (_, r) => Array.from({ length: partitions }, (_, p) => fileSize(messageFile(dir, r, p))).reduce((a, b) => a + b, 0));
}

/** Per origin partition: the bytes pass 3 reads (its partial rows and the answers for them). */
export function assemblePassWeights(dir: string, partitions: number): number[] {
  return Array.from({ length: partitions }, (_, p) => fileSize(rowFile(dir, p)) + Array.from({ length: partitions }, (_, r) => fileSize(answerFile(dir, p, r))).reduce((a, b) => a + b, 0));
}

/** Regroup partition of a key: Kafka's murmur2 partitioner, as the live repartition topic places it (live-regroup-task.ts uses this too). */
export const regroupPartition = (key: string, partitions: number): number => kafkaPartition(key, partitions);

const EMPTY = new Uint8Array(0);
const NO_EVENT: Readonly<Record<string, unknown>> = Object.freeze({});

/** Pass 1's RegroupSinks for one origin partition. */
export class OriginSpill implements RegroupSinks {
  private readonly messages: SpillWriter[];
  private readonly rows: SpillWriter;
  private readonly w = new ByteWriter(256);
  private watermark = -Infinity;
  private readonly needsEvent: readonly boolean[];
  /** Per regroup partition, the targets (regroupQueryTarget) this origin's rows query; only when asked to keep them. */
  private readonly queried: Array<Set<string>> | undefined;

  constructor(
    private readonly dir: string,
    program: Program,
    private readonly origin: number,
    private readonly partitions: number,
    /** Write `q-R-from-P.bin` on close (parity's sampled replay, RegroupSpillOptions.recordQueries). */
    recordQueries = false,
  ) {
    this.messages = Array.from({ length: partitions }, (_, r) => new SpillWriter(messageFile(dir, r, origin)));
    this.rows = new SpillWriter(rowFile(dir, origin));
    this.needsEvent = program.outputs.map(rowNeedsEvent);
    this.queried = recordQueries ? Array.from({ length: partitions }, () => new Set<string>()) : undefined;
  }

  private send(r: number, m: RegroupMessage): void {
    this.w.reset();
    writeRegroupMessage(this.w, m);
    this.messages[r].writeFrom(this.w);
  }

  update(u: Parameters<RegroupSinks['update']>[0]): void {
    this.send(regroupPartition(u.key, this.partitions), u);
  }

  query(q: Parameters<RegroupSinks['query']>[0]): void {
    const r = regroupPartition(q.key, this.partitions);
    this.send(r, q);
    this.queried?.[r].add(regroupQueryTarget(q.group, q.key));
  }

  partialRow(row: PartialRow): void {
    this.w.reset();
    writePartialRow(this.w, row);
    this.rows.writeFrom(this.w);
    // v8's serializer keeps bigint, Date and -0 as they were.
    this.rows.write(this.needsEvent[row.output] ? serialize(row.event) : EMPTY);
  }

  /** After each batch: tell every regroup partition how far this task has come. */
  watermarkAt(watermark: number): void {
    if (!(watermark > this.watermark)) return;
    this.watermark = watermark;
    for (let r = 0; r < this.partitions; r++) this.send(r, { kind: 'watermark', upstream: this.origin, watermark });
  }

  close(): void {
    for (const m of this.messages) m.close();
    this.rows.close();
    if (this.queried === undefined) return;
    for (let r = 0; r < this.partitions; r++) {
      const out = new SpillWriter(queriedFile(this.dir, r, this.origin));
      try {
        for (const target of this.queried[r]) out.write(Buffer.from(target, 'utf8'));
      } finally {
        out.close();
      }
    }
  }
}

/**
 * The regrouped keys queried in regroup partition `regroup`, from the `q-R-from-P.bin` of every
 * origin partition P that sent it messages (`sent[P]`). A list missing for such a partition
 * would leave its queried keys without state: refused, not guessed.
 */
export function readQueriedTargets(dir: string, regroup: number, sent: readonly boolean[]): Set<string> {
  const targets = new Set<string>();
  sent.forEach((s, p) => {
    if (!s) return;
    const file = queriedFile(dir, regroup, p);
    if (!existsSync(file)) throw new Error(`${file} is missing: pass 1 did not list the queried keys (RegroupSpillOptions.recordQueries)`);
    const reader = new SpillReader(file);
    try {
      for (let frame = reader.next(); frame !== undefined; frame = reader.next()) targets.add(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('utf8'));
    } finally {
      reader.close();
    }
  });
  return targets;
}

/** The next partial row of a rows file, or undefined at its end; `frames` is a reader kept for the file's frames. */
export function readPartialRow(reader: SpillReader, frames: ByteReader): PartialRow | undefined {
  const r = reader.nextInto(frames);
  if (r === undefined) return undefined;
  // Decoded before the event frame is read: reading that may refill the reader's buffer.
  const row = readPartialRowFields(r, NO_EVENT);
  const eventFrame = reader.next();
  if (eventFrame === undefined) throw new Error(`${reader.path}: partial row without its event frame; the spill file is incomplete`);
  if (eventFrame.length === 0) return row;
  const event = deserialize(eventFrame) as Record<string, unknown>;
  return { partition: row.partition, source: row.source, offset: row.offset, output: row.output, key: row.key, eventTime: row.eventTime, values: row.values, event };
}
