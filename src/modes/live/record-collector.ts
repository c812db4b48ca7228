/**
 * Turns what a task emits (feature vectors, window rows, late records, dead letters, parity
 * samples) into Kafka records, buffered per task until its next commit. Records a topic's
 * broker would refuse for good (a timestamp outside the topic's accepted range, a record over
 * its size limit) become dead letters here, with the reason, instead of failing every retry
 * of the batch.
 */
import { outputValue, type DeadLetter, type OutputColumn, type FeatureRow, type LateRecord, type TaskSinks, type WindowRowOut } from '../../engine/outputs.js';
import { featureRecordSchema, windowRecordSchema } from '../../io/avro/feature-record-schema.js';
import type { SchemaRegistryPort } from '../../io/avro/registry-client.js';
import { FeatureRecordEncoder } from '../../io/avro/feature-record-encoder.js';
import { WireEncoder } from '../../io/avro/wire-encoder.js';
import type { TaskRecord } from '../../io/kafka/task-producer.js';
import type { TopicLimits } from '../../io/kafka/topic-limits.js';
import type { OutgoingMessage } from '../../io/kafka/topic-producer.js';
import type { LiveParityLog } from '../../parity/parity-log.js';
import { formatEventTime } from '../../time/event-time.js';

interface FeatureOutput {
  readonly encoder: FeatureRecordEncoder;
  readonly topic: string;
}

interface OutputEncoder {
  readonly encoder: WireEncoder;
  readonly columns: readonly OutputColumn[];
  readonly topic: string;
}

/** Topic names for the side outputs of a topology. */
export const lateTopic = (prefix: string): string => `${prefix}-late`;
export const deadLetterTopic = (prefix: string): string => `${prefix}-dead-letters`;

/** Timestamp bounds at or above this are no bound (Kafka's Long.MAX_VALUE read as a JS number). */
const UNBOUNDED = 2 ** 62;

/** Where one task's records collect between commits. */
export interface RecordBuffer {
  readonly out: TaskRecord[];
  /** Lines of the local parity file for the parity records in `out`. */
  readonly parityLines: string[];
  /** Served vectors sampled into the parity log (for metrics). */
  paritySamples: number;
  /** The task's merge skips so far (parity records carry it). */
  mergeSkips(): number;
}

export interface OutputTopics {
  readonly features: ReadonlyMap<string, string>;
  readonly windows: ReadonlyMap<string, string>;
  readonly late: string;
  readonly deadLetters: string;
}

export class RecordCollector {
  private constructor(
    private readonly features: ReadonlyMap<string, FeatureOutput>,
    private readonly windows: ReadonlyMap<string, OutputEncoder>,
    private readonly topics: OutputTopics,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly parityLog: LiveParityLog | undefined,
    private limits: ReadonlyMap<string, TopicLimits>,
    /** Wall clock, only to apply a broker's timestamp bounds (never an output value). */
    private readonly now: () => number,
  ) {}

  /** Register the output schemas (subject `<topic>-value`) and build the encoders. */
  static async open(opts: {
    readonly registry: SchemaRegistryPort;
    readonly features: ReadonlyArray<{ readonly name: string; readonly columns: readonly OutputColumn[]; readonly topic: string }>;
    readonly windows: ReadonlyArray<{ readonly name: string; readonly columns: readonly OutputColumn[]; readonly topic: string }>;
    readonly late: string;
    readonly deadLetters: string;
    readonly version: string;
    readonly topology: string;
    readonly parityLog?: LiveParityLog;
    readonly limits: ReadonlyMap<string, TopicLimits>;
    readonly now?: () => number;
  }): Promise<RecordCollector> {
    const features = new Map<string, FeatureOutput>();
    for (const o of opts.features) {
      const schema = featureRecordSchema(o.name, o.columns);
      features.set(o.name, { encoder: new FeatureRecordEncoder(o.name, o.columns, await opts.registry.register(`${o.topic}-value`, schema)), topic: o.topic });
    }
    const windows = new Map<string, OutputEncoder>();
    for (const w of opts.windows) {
      const schema = windowRecordSchema(w.name, w.columns);
      windows.set(w.name, { encoder: new WireEncoder(schema, await opts.registry.register(`${w.topic}-value`, schema)), columns: w.columns, topic: w.topic });
    }
    const topics: OutputTopics = {
      features: new Map([...features].map(([n, e]) => [n, e.topic])),
      windows: new Map([...windows].map(([n, e]) => [n, e.topic])),
      late: opts.late,
      deadLetters: opts.deadLetters,
    };
    // Frozen: shared by every output record, so the batch encoder encodes it once (record-batch-encoding.ts).
    const headers = Object.freeze({ 'skewless-version': opts.version, 'skewless-topology': opts.topology });
    return new RecordCollector(features, windows, topics, headers, opts.parityLog, opts.limits, opts.now ?? Date.now);
  }

  /** Topic limits changed (re-read after the broker refused a record). */
  setLimits(limits: ReadonlyMap<string, TopicLimits>): void {
    this.limits = limits;
  }

  /** Every topic this collector writes to. */
  get allTopics(): string[] {
    return [...this.topics.features.values(), ...this.topics.windows.values(), this.topics.late, this.topics.deadLetters, ...(this.parityLog ? [this.parityLog.topic] : [])];
  }

  /**
   * Append a record, or its dead letter when the topic's broker would refuse it for good.
   * `source`/`offset` name the input record it came from.
   */
  private push(buf: RecordBuffer, topic: string, m: OutgoingMessage, source: string, offset: number): void {
    const problem = this.refusal(topic, m);
    if (problem === undefined) {
      buf.out.push({ topic, message: m });
      return;
    }
    buf.out.push({
      topic: this.topics.deadLetters,
      message: {
        key: m.key,
        value: m.value,
        partition: m.partition,
        headers: { ...this.headers, 'skewless-reason': problem, 'skewless-source': source, 'skewless-partition': String(m.partition ?? -1), 'skewless-offset': String(offset), 'skewless-topic': topic },
      },
    });
  }

  /** Why the broker would refuse this record for good, if it would. */
  private refusal(topic: string, m: OutgoingMessage): string | undefined {
    const limits = this.limits.get(topic);
    if (limits === undefined) return undefined;
    let size = (m.value?.byteLength ?? 0) + (m.key === null ? 0 : typeof m.key === 'string' ? m.key.length * 3 : m.key.byteLength);
    // Headers are small; they only need counting when the record is anywhere near the limit.
    if (size + 65_536 > limits.maxMessageBytes) {
      size = (m.value?.byteLength ?? 0) + (m.key === null ? 0 : typeof m.key === 'string' ? Buffer.byteLength(m.key) : m.key.byteLength);
      for (const [k, v] of Object.entries(m.headers ?? {})) size += k.length + (typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength);
      // A record batch adds about 70 bytes of framing to its one record.
      if (size + 128 > limits.maxMessageBytes) return `record of ${size} bytes exceeds max.message.bytes ${limits.maxMessageBytes} of topic ${topic}`;
    }
    if (m.timestamp !== undefined && limits.timestampType === 'CreateTime' && (limits.timestampAfterMaxMs < UNBOUNDED || limits.timestampBeforeMaxMs < UNBOUNDED)) {
      const now = this.now();
      if (m.timestamp > now + limits.timestampAfterMaxMs || m.timestamp < now - limits.timestampBeforeMaxMs) {
        return (
          `timestamp ${m.timestamp} (${formatEventTime(m.timestamp)}) is outside what topic ${topic} accepts ` +
          `(message.timestamp.after.max.ms ${limits.timestampAfterMaxMs}, before.max.ms ${limits.timestampBeforeMaxMs}); raise them on the topic to accept event-time timestamps`
        );
      }
    }
    return undefined;
  }

  sinksFor(buf: () => RecordBuffer): TaskSinks {
    const headers = this.headers;
    return {
      feature: (r: FeatureRow) => {
        const e = this.features.get(r.output)!;
        const enc = e.encoder.encode(r, r.values);
        if (enc.error !== undefined) throw new Error(`output ${r.output}: ${enc.error}`);
        const b = buf();
        // Source and offset are fields of the value, so the record carries only the shared headers.
        this.push(b, e.topic, { key: r.key, value: enc.bytes, partition: r.partition, timestamp: r.eventTime, headers }, r.source, r.offset);
        // The served record itself goes to the parity log, in the same transaction as the feature record.
        const sampled = this.parityLog?.messageFor(r, () => e.encoder.value(r, r.values), b.mergeSkips(), b.parityLines);
        if (sampled !== undefined) {
          this.push(b, this.parityLog!.topic, sampled, r.source, r.offset);
          b.paritySamples++;
        }
      },
      window: (r: WindowRowOut) => {
        const e = this.windows.get(r.output)!;
        const value: Record<string, unknown> = { key: r.key, window_start: r.windowStart, window_end: r.windowEnd, partition: r.partition, final: r.final };
        e.columns.forEach((c, i) => (value[c.name] = outputValue(r.values[i], c)));
        const enc = e.encoder.encode(value);
        if (enc.error !== undefined) throw new Error(`window output ${r.output}: ${enc.error}`);
        this.push(buf(), e.topic, { key: r.key, value: enc.bytes, partition: r.partition, timestamp: r.windowEnd, headers }, r.output, r.windowEnd);
      },
      deadLetter: (d: DeadLetter) => {
        const raw = d.raw === undefined ? null : typeof d.raw === 'string' ? Buffer.from(d.raw) : Buffer.from(d.raw);
        buf().out.push({
          topic: this.topics.deadLetters,
          message: {
            key: null,
            value: raw,
            partition: d.partition,
            headers: { ...headers, 'skewless-reason': d.reason, 'skewless-source': d.source, 'skewless-partition': String(d.partition), 'skewless-offset': String(d.offset) },
          },
        });
      },
      late: (l: LateRecord) => {
        this.push(
          buf(),
          this.topics.late,
          {
            key: l.key,
            value: Buffer.from(JSON.stringify(l.value)),
            partition: l.partition,
            timestamp: l.eventTime,
            headers: { ...headers, 'skewless-reason': l.reason, 'skewless-source': l.source, 'skewless-offset': String(l.offset) },
          },
          l.source,
          l.offset,
        );
        this.markLateForParity(buf(), l);
      },
      lateDropped: (l: LateRecord) => this.markLateForParity(buf(), l),
    };
  }

  /** Late records of sampled keys go to the parity log too, so parity can tell which rows they touched. */
  private markLateForParity(b: RecordBuffer, l: LateRecord): void {
    const marker = this.parityLog?.lateMessageFor(l, b.parityLines);
    if (marker !== undefined) this.push(b, this.parityLog!.topic, marker, l.source, l.offset);
  }
}
