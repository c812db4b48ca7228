import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { columnValue, type FeatureRow, type OutputColumn, type WindowRowOut } from '../engine/outputs.js';
import type { AggValue } from '../ops/aggregation.js';
import type { OutputProgram, Program, WindowOpProgram } from '../engine/program.js';
import { NullableNumbers } from '../io/files/nullable-numbers.js';
import { createTrainingWriter, type ColumnSpec, type TrainingFileSummary, type TrainingWriter } from '../io/files/parquet-training-writer.js';
import type { InputRange } from '../engine/input.js';
import { canonicalJson } from '../plan/canonical-json.js';
import type { CompiledPlan } from '../plan/compile.js';
import type { LabelIndex } from './label-index.js';

const CHUNK = 16384;

/** The footer metadata of a training file: what produced it, from which input ranges. */
export function trainingMetadata(plan: CompiledPlan, ranges: readonly InputRange[]): (output: string, partition: number) => Record<string, string> {
  const fingerprints: Record<string, string> = {};
  for (const [name, s] of plan.schemas) fingerprints[name] = s.fingerprint;
  return (output, partition) => ({
    'skewless.version': plan.version,
    'skewless.topology': plan.topology.name,
    'skewless.output': output,
    'skewless.partition': String(partition),
    'skewless.input_ranges': JSON.stringify(ranges.filter((r) => r.partition === partition)),
    'skewless.schema_fingerprints': canonicalJson(fingerprints),
    'skewless.plan': canonicalJson(plan.canonical),
  });
}

/** Columns the training writer takes as typed numbers (NullableNumbers). */
const NUMBER_TYPES: ReadonlySet<string> = new Set(['double', 'int32', 'int64', 'timestamp-ms']);

/**
 * A column of other values (strings, booleans), in an array of CHUNK slots reused chunk after
 * chunk like the numbers: a fresh array per chunk grew by copying a dozen times for every
 * 16,384 rows. The writer reads the first rowCount slots and copies them.
 */
class PlainValues {
  readonly values: unknown[] = new Array<unknown>(CHUNK).fill(null);
  length = 0;
  push(v: unknown): void {
    this.values[this.length++] = v;
  }
  /** `n` copies of `v`, the column's whole chunk. */
  fill(v: unknown, n: number): void {
    this.values.fill(v, 0, n);
    this.length = n;
  }
  clear(): void {
    this.length = 0;
  }
}

/** `n` copies of the number `v`, the column's whole chunk. */
function fillNumbers(column: NullableNumbers, v: number, n: number): void {
  column.values.fill(v, 0, n);
  column.present.fill(1, 0, n);
  column.length = n;
}

/** Column buffers for one Parquet file; handed to the writer CHUNK rows at a time. */
class ColumnBuffer {
  readonly cols: Record<string, unknown[] | NullableNumbers> = {};
  /** Every column by name, reused chunk after chunk (the writer copies them). */
  readonly byName: Record<string, NullableNumbers | PlainValues> = {};
  /** The value columns in output order, so the hot path indexes instead of looking up names. */
  readonly ordered: ReadonlyArray<NullableNumbers | PlainValues>;
  /** Per value column: whether it is boolean (columnValue writes an AggValue 1 or 0 as true or false). */
  readonly booleans: readonly boolean[];
  n = 0;
  /**
   * @param partition the file's partition and `version` the program's: the same in every row of
   * the file, so their columns are filled once per chunk instead of pushed per row.
   */
  constructor(
    private readonly specs: readonly ColumnSpec[],
    valueColumns: readonly OutputColumn[],
    readonly writer: TrainingWriter,
    private readonly partition: number,
    private readonly version: string,
  ) {
    for (const c of specs) {
      const column = NUMBER_TYPES.has(c.type) ? new NullableNumbers(CHUNK) : new PlainValues();
      this.byName[c.name] = column;
      this.cols[c.name] = column instanceof NullableNumbers ? column : column.values;
    }
    this.ordered = valueColumns.map((c) => this.byName[c.name]);
    this.booleans = valueColumns.map((c) => c.type === 'boolean');
  }
  /** A row's values, converted as every output converts them. */
  pushValues(values: readonly AggValue[]): void {
    const ordered = this.ordered;
    const booleans = this.booleans;
    for (let i = 0; i < ordered.length; i++) ordered[i].push(columnValue(values[i], booleans[i]));
  }
  rowDone(): void {
    if (++this.n >= CHUNK) this.flush();
  }
  flush(): void {
    if (this.n === 0) return;
    fillNumbers(this.byName.partition as NullableNumbers, this.partition, this.n);
    (this.byName._version as PlainValues).fill(this.version, this.n);
    this.writer.appendColumns(this.cols, this.n);
    for (const { name } of this.specs) this.byName[name].clear();
    this.n = 0;
  }
}

/**
 * Training data: one Parquet file per output and partition (`<out>/<output>/part-00003.parquet`),
 * rows in offset order within the partition. Per-partition files keep the bytes independent
 * of how partitions were interleaved during the run.
 */
export class TrainingSink {
  private readonly buffers = new Map<string, ColumnBuffer>();
  private readonly byOutput = new Map<string, ColumnBuffer[]>();
  private readonly outputByName: ReadonlyMap<string, OutputProgram>;
  private readonly windowByName: ReadonlyMap<string, WindowOpProgram>;
  readonly files: TrainingFileSummary[] = [];
  private lastOutput: OutputProgram | undefined;
  private lastBuffer: ColumnBuffer | undefined;
  private lastPartition = -1;

  constructor(
    private readonly outDir: string,
    private readonly program: Program,
    private readonly metadata: (output: string, partition: number) => Record<string, string>,
    private readonly labels: ReadonlyMap<string, LabelIndex>,
  ) {
    this.outputByName = new Map(program.outputs.map((o) => [o.name, o]));
    this.windowByName = new Map(program.windowOps.map((w) => [w.name, w]));
  }

  private featureColumns(o: OutputProgram): ColumnSpec[] {
    const cols: ColumnSpec[] = [
      { name: 'key', type: 'string', nullable: false },
      { name: 'event_time', type: 'timestamp-ms', nullable: false },
      { name: 'partition', type: 'int32', nullable: false },
      { name: 'offset', type: 'int64', nullable: false },
      ...o.columns.map((c) => ({ name: c.name, type: c.type, nullable: true })),
    ];
    if (o.labelJoin) {
      const l = o.labelJoin.label;
      cols.push({ name: l, type: 'boolean', nullable: true }, { name: `${l}_matured`, type: 'boolean', nullable: false }, { name: `${l}_at`, type: 'timestamp-ms', nullable: true });
    }
    cols.push({ name: '_version', type: 'string', nullable: false });
    return cols;
  }

  private windowColumns(w: WindowOpProgram): ColumnSpec[] {
    return [
      { name: 'key', type: 'string', nullable: false },
      { name: 'window_start', type: 'timestamp-ms', nullable: false },
      { name: 'window_end', type: 'timestamp-ms', nullable: false },
      { name: 'partition', type: 'int32', nullable: false },
      { name: 'final', type: 'boolean', nullable: false },
      ...w.columns.map((c) => ({ name: c.name, type: c.type, nullable: true })),
      { name: '_version', type: 'string', nullable: false },
    ];
  }

  private buffer(output: string, partition: number, columns: () => ColumnSpec[]): ColumnBuffer {
    // Hot path: one lookup by output, then an array index by partition; no string building per row.
    let byPartition = this.byOutput.get(output);
    if (!byPartition) {
      byPartition = [];
      this.byOutput.set(output, byPartition);
    }
    let b = byPartition[partition];
    if (!b) {
      const id = `${output}/${String(partition).padStart(5, '0')}`;
      const dir = join(this.outDir, output);
      mkdirSync(dir, { recursive: true });
      const specs = columns();
      const writer = createTrainingWriter({
        path: join(dir, `part-${String(partition).padStart(5, '0')}.parquet`),
        columns: specs,
        metadata: () => this.metadata(output, partition),
      });
      const valueColumns = this.outputByName.get(output)?.columns ?? this.windowByName.get(output)?.columns ?? [];
      b = new ColumnBuffer(specs, valueColumns, writer, partition, this.program.version);
      this.buffers.set(id, b);
      byPartition[partition] = b;
    }
    return b;
  }

  feature(row: FeatureRow): void {
    // Rows come in runs of one output and partition: the last run's lookups are reused.
    let o = this.lastOutput;
    let b = this.lastBuffer;
    if (o === undefined || b === undefined || o.name !== row.output || this.lastPartition !== row.partition) {
      const program = this.outputByName.get(row.output)!;
      o = program;
      b = this.byOutput.get(row.output)?.[row.partition] ?? this.buffer(row.output, row.partition, () => this.featureColumns(program));
      this.lastOutput = o;
      this.lastBuffer = b;
      this.lastPartition = row.partition;
    }
    const c = b.byName;
    c.key.push(row.key);
    c.event_time.push(row.eventTime);
    c.offset.push(row.offset);
    b.pushValues(row.values);
    if (o.labelJoin) {
      const idx = this.labels.get(row.output)!;
      const id = o.labelJoin.on(row.event);
      const [label, matured, at] = idx.lookup(String(id), row.eventTime);
      const l = o.labelJoin.label;
      c[l].push(label);
      c[`${l}_matured`].push(matured);
      c[`${l}_at`].push(at);
    }
    b.rowDone();
  }

  window(row: WindowRowOut): void {
    const w = this.windowByName.get(row.output)!;
    const b = this.buffer(row.output, row.partition, () => this.windowColumns(w));
    const c = b.byName;
    c.key.push(row.key);
    c.window_start.push(row.windowStart);
    c.window_end.push(row.windowEnd);
    c.final.push(row.final);
    b.pushValues(row.values);
    b.rowDone();
  }

  /** Flush and publish every file (footers carry the metadata). */
  close(): TrainingFileSummary[] {
    const ids = [...this.buffers.keys()].sort();
    try {
      for (const id of ids) {
        const b = this.buffers.get(id)!;
        b.flush();
        this.files.push(b.writer.close());
      }
    } catch (e) {
      // One file that cannot be written (a full disk) fails the replay: the files not published
      // yet leave no partial file behind either.
      this.abort();
      throw e;
    }
    return this.files;
  }

  abort(): void {
    for (const b of this.buffers.values()) b.writer.abort();
  }
}
