/**
 * The one place a kafkajs client is created. Everything kafkajs lives under src/io/kafka/ so
 * another client could replace it without touching modes or the engine (DESIGN.md).
 */
import kafkajs from './kafkajs-runtime.js';
import type { Admin, Kafka, LogEntry, logCreator, RetryOptions } from 'kafkajs';
import { kafkaErrorText } from './kafka-retry.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

export interface KafkaConnectionOptions {
  /** host:port of the bootstrap brokers. */
  readonly brokers: readonly string[];
  /** Log kafkajs' own messages (info and above) to stderr; otherwise it stays silent. */
  readonly verbose?: boolean;
}

/** Raised when no broker answers: a configuration problem the user fixes, not a bug. */
export class KafkaUnreachableError extends Error {
  constructor(brokers: readonly string[], cause: string) {
    super(
      `cannot reach Kafka at ${brokers.join(',')} (${cause}): start the local stack with \`npm run stack:up\` ` +
        '(then `export $(node scripts/stack/up.mjs)`) or set KAFKA_BROKERS / --brokers to a running cluster',
    );
    this.name = 'KafkaUnreachableError';
  }
}

/** `a:1,b:2` → ['a:1', 'b:2'], rejecting entries without a port so a typo fails here, not in a retry loop. */
export function parseBrokers(list: string): string[] {
  const brokers = list
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new Error('no Kafka brokers given: set KAFKA_BROKERS or pass --brokers host:port');
  for (const b of brokers) {
    if (!/^[^\s:]+:\d+$/.test(b)) throw new Error(`bad Kafka broker address "${b}": expected host:port (e.g. 127.0.0.1:19092)`);
  }
  return brokers;
}

/**
 * kafkajs' default logger prints JSON to stdout, which would corrupt `--json` output; ours
 * writes one line per entry to stderr and only when asked for.
 */
function stderrLogger(verbose: boolean): logCreator {
  return () =>
    (entry: LogEntry): void => {
      if (!verbose) return;
      const { message, ...extra } = entry.log;
      delete (extra as { timestamp?: string }).timestamp;
      const detail = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : '';
      process.stderr.write(`[kafka ${entry.label} ${entry.namespace}] ${message}${detail}\n`);
    };
}

/**
 * A kafkajs client plus one admin client, opened after checking that a broker answers. The
 * check uses its own short retry budget: an absent broker is reported in about a second
 * instead of after kafkajs' full back-off (which is kept for everything else, e.g. leader
 * elections right after a topic is created).
 */
export class KafkaConnection {
  private constructor(
    readonly brokers: readonly string[],
    /** The kafkajs client: for src/io/kafka modules only. */
    readonly kafka: Kafka,
    /** Shared admin client: for src/io/kafka modules only. */
    readonly admin: Admin,
  ) {}

  static async open(options: KafkaConnectionOptions): Promise<KafkaConnection> {
    const verbose = options.verbose === true;
    const client = (retry?: RetryOptions): Kafka =>
      new KafkaClient({
        clientId: 'skewless',
        brokers: [...options.brokers],
        connectionTimeout: 3000,
        logLevel: verbose ? logLevel.INFO : logLevel.NOTHING,
        logCreator: stderrLogger(verbose),
        retry,
      });
    // The retry budget of the initial connection is the client's (kafkajs ignores an admin's own),
    // hence a separate client for the probe.
    const probe = client({ retries: 1, initialRetryTime: 200, maxRetryTime: 1000 }).admin();
    try {
      await probe.connect();
      // A metadata request proves that a broker answers, not just that a socket opened.
      await probe.listTopics();
    } catch (e) {
      await probe.disconnect().catch(() => undefined);
      throw new KafkaUnreachableError(options.brokers, kafkaErrorText(e));
    }
    await probe.disconnect();
    const kafka = client();
    const admin = kafka.admin();
    await admin.connect();
    return new KafkaConnection(options.brokers, kafka, admin);
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}
