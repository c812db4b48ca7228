/**
 * The record timestamp `produce` gives each record: its event time, so that Kafka's time index
 * (which `backfill --from-kafka --since/--until` use) follows the data's time, not the time it
 * was loaded. Where the topic would not keep an event time as the record's timestamp, the
 * record gets the load time instead (the producer's clock) and the reason is counted, so the
 * data itself always arrives: a broker refuses a batch with a timestamp outside its
 * message.timestamp.*.max.ms, and deletes a segment whose timestamps are older than retention.ms.
 */
import { formatDuration } from '../dsl/duration.js';
import type { TopicLimits } from '../io/kafka/topic-limits.js';

/** Slack for the time between stamping a record and the broker checking it. */
const SLACK_MS = 60_000;
/** A record stamped this close to the end of retention would be deleted soon after loading. */
const RETENTION_MARGIN_MS = 3_600_000;

const bound = (ms: number): string => (ms >= Number.MAX_SAFE_INTEGER ? 'unbounded' : formatDuration(ms));

export interface LoadTimeReason {
  readonly reason: string;
  readonly records: number;
}

export class RecordTimestamps {
  private eventTimed = 0;
  private readonly loadTimed = new Map<string, number>();

  constructor(
    private readonly topic: string,
    private readonly limits: TopicLimits | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The timestamp for a record with this event time (ms, or why there is none); undefined: the load time. */
  stamp(eventTime: number | string): number | undefined {
    const why = this.refusal(eventTime);
    if (why === undefined) {
      this.eventTimed++;
      return eventTime as number;
    }
    this.loadTimed.set(why, (this.loadTimed.get(why) ?? 0) + 1);
    return undefined;
  }

  /** How many records carry their event time, and why the others carry the load time (most frequent first). */
  summary(): { readonly eventTime: number; readonly loadTime: number; readonly loadTimeReasons: readonly LoadTimeReason[] } {
    const reasons = [...this.loadTimed].map(([reason, records]) => ({ reason, records })).sort((a, b) => b.records - a.records || (a.reason < b.reason ? -1 : 1));
    return { eventTime: this.eventTimed, loadTime: reasons.reduce((n, r) => n + r.records, 0), loadTimeReasons: reasons };
  }

  private refusal(t: number | string): string | undefined {
    if (typeof t === 'string') return 'no usable event time (the record is produced as it is; the engine dead-letters it)';
    const l = this.limits;
    if (l?.timestampType === 'LogAppendTime') return `topic ${this.topic} has message.timestamp.type=LogAppendTime: the broker stamps every record`;
    if (t < 0) return 'event time before 1970 (Kafka timestamps cannot be negative)';
    if (l === undefined) return undefined;
    const now = this.now();
    if (t < now - l.timestampBeforeMaxMs + SLACK_MS) return `event time older than topic ${this.topic} accepts (message.timestamp.before.max.ms ${bound(l.timestampBeforeMaxMs)})`;
    if (t > now + l.timestampAfterMaxMs - SLACK_MS) return `event time further ahead than topic ${this.topic} accepts (message.timestamp.after.max.ms ${bound(l.timestampAfterMaxMs)})`;
    if (t < now - l.retentionMs + RETENTION_MARGIN_MS) return `event time older than topic ${this.topic} keeps records (retention.ms ${bound(l.retentionMs)}): the broker would delete it`;
    return undefined;
  }
}
