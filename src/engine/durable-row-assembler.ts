import { deserialize, serialize } from 'node:v8';
import { ByteReader, ByteWriter } from '../state/codec.js';
import type { BatchOp, StateBackend } from '../state/state-backend.js';
import { assemblerAnswersKey, assemblerAnswersPrefix, assemblerMetaKey, assemblerRowsKey, assemblerRowsPrefix } from '../state/task-state-keys.js';
import type { FeatureRow } from './outputs.js';
import type { Program } from './program.js';
import { readPartialRowFields, readRegroupAnswer, writePartialRow, writeRegroupAnswer } from './regroup-codec.js';
import type { PartialRow, RegroupAnswer } from './regroup-messages.js';
import { RowAssembler, rowNeedsEvent } from './row-assembler.js';

interface AssemblerMeta {
  /** Sequence of the next partial row. */
  readonly seq: number;
  /** Rows below this sequence are emitted (rows leave in sequence order). */
  readonly emitted: number;
  /** Number of the next answers entry. */
  readonly answerEntries: number;
  /** Next offset of each internal topic partition whose records this state reflects. */
  readonly positions: Readonly<Record<string, number>>;
}

/** A stored entry: rows or answers of one checkpoint, deleted once every row it holds or serves is emitted. */
interface Chunk {
  readonly key: string;
  /** The highest row sequence it holds or answers. */
  readonly last: number;
}

const NO_EVENT: Readonly<Record<string, unknown>> = Object.freeze({});

/** A state entry (and its changelog record) stays well below Kafka's default 1 MiB record limit. */
const ENTRY_BYTES = 256 * 1024;

/**
 * An answer arrived for a row the task's state does not hold: its state and the answers topic
 * disagree. Every retry from the same state meets it again; a local copy may be at fault (it is
 * rebuilt from the changelog once), a store just rebuilt from the changelog is not.
 */
export class AnswerWithoutRowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnswerWithoutRowError';
  }
}

/**
 * A live task's RowAssembler whose waiting rows survive a restart. Rows leave in the order they
 * came (RowAssembler), so the state is: the rows each checkpoint added, in one entry per
 * checkpoint; the answers each checkpoint received for rows still waiting, likewise; and how
 * many rows have left. An entry is deleted once every row it holds or answers has left, so a
 * row costs no changelog record of its own. Answers come only for rows the task committed with
 * their queries, so an answer without its row is a broken invariant.
 */
export class DurableRowAssembler {
  private seq = 0;
  private emitted = 0;
  private answerEntries = 0;
  private positions: Record<string, number> = {};
  private readonly inner: RowAssembler;
  private readonly chunks: Chunk[] = [];
  /** Rows and answers since the last changes(). */
  private readonly rows = new ByteWriter(4096);
  private rowsFrom = -1;
  private answers: Array<{ readonly a: RegroupAnswer; readonly seq: number }> = [];
  /** Entries of rows closed before changes() (split by size). */
  private pendingOps: BatchOp[] = [];
  private readonly needsEvent: readonly boolean[];

  private constructor(
    private readonly program: Program,
    readonly partition: number,
    emit: (row: FeatureRow) => void,
  ) {
    this.needsEvent = program.outputs.map(rowNeedsEvent);
    this.inner = new RowAssembler(program, partition, (row, seq) => {
      this.emitted = seq + 1;
      emit(row);
    });
  }

  /** The task's assembler as of its last checkpoint. */
  static async open(program: Program, partition: number, backend: StateBackend, emit: (row: FeatureRow) => void): Promise<DurableRowAssembler> {
    const a = new DurableRowAssembler(program, partition, emit);
    const [metaBytes] = await backend.getMany([assemblerMetaKey(partition)]);
    if (metaBytes === undefined) return a;
    const meta = JSON.parse(new TextDecoder().decode(metaBytes)) as AssemblerMeta;
    a.seq = meta.seq;
    a.emitted = meta.emitted;
    a.answerEntries = meta.answerEntries;
    a.positions = { ...meta.positions };
    const rowsPrefix = assemblerRowsPrefix(partition);
    for (const [key, value] of await backend.scan(rowsPrefix)) {
      let seq = parseInt(key.slice(rowsPrefix.length), 16);
      for (const r = new ByteReader(value); !r.done; seq++) {
        const hasEvent = r.uint() === 1;
        const event = hasEvent ? (deserialize(r.blob()) as Record<string, unknown>) : NO_EVENT;
        const row = readPartialRowFields(r, event);
        if (seq < a.emitted) continue;
        a.inner.row(row, seq);
      }
      a.chunks.push({ key, last: seq - 1 });
    }
    for (const [key, value] of await backend.scan(assemblerAnswersPrefix(partition))) {
      let last = -1;
      for (const r = new ByteReader(value); !r.done; ) {
        const ans = readRegroupAnswer(r);
        if (!a.inner.holds(ans)) continue; // its row left after this entry was written
        last = Math.max(last, a.inner.answer(ans));
      }
      a.chunks.push({ key, last });
    }
    return a;
  }

  /** Rows waiting for answers. */
  get pending(): number {
    return this.inner.pending;
  }

  /** Next offset to read of an internal topic partition (0 before any). */
  position(topic: string): number {
    return this.positions[topic] ?? 0;
  }

  setPosition(topic: string, next: number): void {
    this.positions[topic] = next;
  }

  row(row: PartialRow): void {
    const seq = this.seq++;
    if (this.rowsFrom < 0) this.rowsFrom = seq;
    else if (this.rows.written().length >= ENTRY_BYTES) {
      this.closeRows(seq - 1);
      this.rowsFrom = seq;
    }
    const needsEvent = this.needsEvent[row.output];
    this.rows.uint(needsEvent ? 1 : 0);
    if (needsEvent) this.rows.blob(serialize(row.event));
    writePartialRow(this.rows, row);
    this.inner.row(row, seq);
  }

  answer(a: RegroupAnswer): void {
    const seq = this.inner.answer(a);
    if (seq < 0) {
      throw new AnswerWithoutRowError(
        `task ${this.partition}: a regrouped answer for ${this.program.outputs[a.output]?.name ?? `output ${a.output}`} at ${a.source} offset ${a.offset} came for a row this task does not hold; its state does not match the answers topic`,
      );
    }
    this.answers.push({ a, seq });
  }

  /** Rows rowsFrom..last, written so far, become one entry (unless they have all left). */
  private closeRows(last: number): void {
    if (last >= this.emitted) {
      const key = assemblerRowsKey(this.partition, this.rowsFrom);
      this.pendingOps.push({ type: 'put', key, value: this.rows.bytes() });
      this.chunks.push({ key, last });
    }
    this.rows.reset();
    this.rowsFrom = -1;
  }

  /** State changes since the last call, ending with the assembler's meta. */
  changes(): BatchOp[] {
    // Rows and answers of this checkpoint that are still needed go into entries of at most ENTRY_BYTES.
    if (this.rowsFrom >= 0) this.closeRows(this.seq - 1);
    const ops = this.pendingOps;
    this.pendingOps = [];
    const w = new ByteWriter(256);
    let last = -1;
    const close = (): void => {
      if (last < 0) return;
      const key = assemblerAnswersKey(this.partition, this.answerEntries++);
      ops.push({ type: 'put', key, value: w.bytes() });
      this.chunks.push({ key, last });
      w.reset();
      last = -1;
    };
    for (const { a, seq } of this.answers) {
      if (seq < this.emitted) continue;
      writeRegroupAnswer(w, a);
      last = Math.max(last, seq);
      if (w.written().length >= ENTRY_BYTES) close();
    }
    close();
    this.answers = [];
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      if (this.chunks[i].last >= this.emitted) continue;
      ops.push({ type: 'del', key: this.chunks[i].key });
      this.chunks.splice(i, 1);
    }
    const meta: AssemblerMeta = { seq: this.seq, emitted: this.emitted, answerEntries: this.answerEntries, positions: this.positions };
    ops.push({ type: 'put', key: assemblerMetaKey(this.partition), value: new TextEncoder().encode(JSON.stringify(meta)) });
    return ops;
  }
}
