import { deserialize, serialize } from 'node:v8';
import { ByteReader, ByteWriter } from '../state/codec.js';
import type { BatchOp, StateBackend } from '../state/state-backend.js';
import { assemblerMetaKey, assemblerRowKey, assemblerRowsPrefix } from '../state/task-state-keys.js';
import type { FeatureRow } from './outputs.js';
import type { Program } from './program.js';
import { readAggValues, readPartialRowFields, writeAggValues, writePartialRow } from './regroup-codec.js';
import type { PartialRow, RegroupAnswer, RowRef } from './regroup-messages.js';
import { RowAssembler, rowNeedsEvent } from './row-assembler.js';

interface AssemblerMeta {
  /** Sequence of the next partial row. */
  readonly seq: number;
  /** Next offset of each internal topic partition whose records this state reflects. */
  readonly positions: Readonly<Record<string, number>>;
}

const NO_EVENT: Readonly<Record<string, unknown>> = Object.freeze({});
const refId = (output: number, source: string, offset: number): string => `${output}|${source}|${offset}`;

/**
 * A live task's RowAssembler whose waiting rows survive a restart: each partial row, its event
 * (when the row needs it) and each answer it already has are state entries, written with the
 * batch that produced them and deleted with the batch that completes the row (the same
 * changelog and transaction as everything else of the task). Answers come only for rows the
 * task committed with their queries, so an answer without its row is a broken invariant.
 */
export class DurableRowAssembler {
  private seq = 0;
  private positions: Record<string, number> = {};
  private readonly inner: RowAssembler;
  /** Sequence of each waiting row, by reference. */
  private readonly seqOf = new Map<string, number>();
  /** Entries written since the last changes(); a row completed before then needs no put and no delete. */
  private readonly puts = new Map<string, Uint8Array>();
  private dels: string[] = [];
  private readonly outputIndex: ReadonlyMap<string, number>;
  private readonly needsEvent: readonly boolean[];
  private readonly w = new ByteWriter(256);

  private constructor(
    private readonly program: Program,
    readonly partition: number,
    emit: (row: FeatureRow) => void,
  ) {
    this.outputIndex = new Map(program.outputs.map((o) => [o.name, o.index]));
    this.needsEvent = program.outputs.map(rowNeedsEvent);
    this.inner = new RowAssembler(program, partition, (row) => {
      this.forget(this.outputIndex.get(row.output)!, row.source, row.offset);
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
    a.positions = { ...meta.positions };
    const prefix = assemblerRowsPrefix(partition);
    // Keys sort as row, its event, its answers; rows in sequence order.
    let row: { fields: Uint8Array; seq: number; event: Readonly<Record<string, unknown>>; answers: RegroupAnswer[] } | undefined;
    const flush = (): void => {
      if (row === undefined) return;
      const r = readPartialRowFields(new ByteReader(row.fields), row.event);
      a.seqOf.set(refId(r.output, r.source, r.offset), row.seq);
      a.inner.row(r);
      for (const ans of row.answers) a.inner.answer(ans);
    };
    for (const [key, value] of await backend.scan(prefix)) {
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) {
        flush();
        row = { fields: value, seq: parseInt(rest, 16), event: NO_EVENT, answers: [] };
      } else if (row === undefined) throw new Error(`row assembler of task ${partition}: entry ${key} without its row`);
      else if (rest.endsWith('/e')) row.event = deserialize(value) as Record<string, unknown>;
      else {
        const r = new ByteReader(value);
        row.answers.push({ ...refOf(row.fields), query: parseInt(rest.slice(slash + 2), 10), values: readAggValues(r) });
      }
    }
    flush();
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
    const key = assemblerRowKey(this.partition, seq);
    this.w.reset();
    writePartialRow(this.w, row);
    this.puts.set(key, this.w.bytes());
    if (this.needsEvent[row.output]) this.puts.set(`${key}/e`, serialize(row.event));
    this.seqOf.set(refId(row.output, row.source, row.offset), seq);
    this.inner.row(row);
  }

  answer(a: RegroupAnswer): void {
    const seq = this.seqOf.get(refId(a.output, a.source, a.offset));
    if (seq === undefined) {
      throw new Error(
        `task ${this.partition}: a regrouped answer for ${this.program.outputs[a.output]?.name ?? `output ${a.output}`} at ${a.source} offset ${a.offset} came for a row this task does not hold; its state does not match the answers topic`,
      );
    }
    this.w.reset();
    writeAggValues(this.w, a.values);
    this.puts.set(`${assemblerRowKey(this.partition, seq)}/q${a.query}`, this.w.bytes());
    this.inner.answer(a);
  }

  private forget(output: number, source: string, offset: number): void {
    const id = refId(output, source, offset);
    const seq = this.seqOf.get(id)!;
    this.seqOf.delete(id);
    const key = assemblerRowKey(this.partition, seq);
    const keys = [key, ...(this.needsEvent[output] ? [`${key}/e`] : []), ...this.program.outputs[output].regroupQueries.map((q) => `${key}/q${q.index}`)];
    for (const k of keys) if (!this.puts.delete(k)) this.dels.push(k);
  }

  /** State changes since the last call, ending with the assembler's meta. */
  changes(): BatchOp[] {
    const ops: BatchOp[] = this.dels.map((key) => ({ type: 'del', key }));
    this.dels = [];
    for (const [key, value] of this.puts) ops.push({ type: 'put', key, value });
    this.puts.clear();
    const meta: AssemblerMeta = { seq: this.seq, positions: this.positions };
    ops.push({ type: 'put', key: assemblerMetaKey(this.partition), value: new TextEncoder().encode(JSON.stringify(meta)) });
    return ops;
  }
}

/** The reference part of a stored partial row (it starts with writeRowRef). */
function refOf(fields: Uint8Array): RowRef {
  const r = new ByteReader(fields);
  return { partition: r.uint(), source: r.str(), offset: r.uint(), output: r.uint() };
}
