/**
 * The one place a kafkajs client is created. Everything kafkajs lives under src/io/kafka/ so
 * another client could replace it without touching modes or the engine (DESIGN.md).
 */
import type { ConnectionOptions } from 'node:tls';
import kafkajs from './kafkajs-runtime.js';
import type { Admin, Kafka, KafkaConfig, LogEntry, logCreator, RetryOptions, SASLOptions } from 'kafkajs';
import type { KafkaSecurity, SaslSettings } from '../client-security.js';
import { redactSecrets } from '../secret-redaction.js';
import { tlsFailureHint } from '../tls-failure.js';
import { connectionRefusal, kafkaErrorText, type ConnectionRefusal } from './kafka-retry.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

export interface KafkaConnectionOptions {
  /** host:port of the bootstrap brokers. */
  readonly brokers: readonly string[];
  /** TLS and SASL as configured (src/io/client-config.ts); default plaintext. */
  readonly security?: KafkaSecurity;
  /** Log kafkajs' own messages (info and above) to stderr; otherwise it stays silent. */
  readonly verbose?: boolean;
}

/** Raised when no broker answers: a configuration problem the user fixes, not a bug. */
export class KafkaUnreachableError extends Error {
  /**
   * `silentMs`: how long a broker that took the connection stayed silent, when that is what
   * happened (a paused or overloaded broker: starting the local stack is then no advice).
   */
  constructor(brokers: readonly string[], cause: string, protocol = 'PLAINTEXT', silentMs?: number) {
    super(
      silentMs !== undefined
        ? `Kafka at ${brokers.join(',')} took the connection but answered nothing within ${silentMs / 1000} s (${cause}): ` +
            'the broker is paused, overloaded or still starting; check its process and log, then retry'
        : protocol === 'PLAINTEXT'
        ? `cannot reach Kafka at ${brokers.join(',')} (${cause}): start the local stack with \`npm run stack:up\` ` +
            '(then `export $(node scripts/stack/up.mjs)`) or set KAFKA_BROKERS / --brokers to a running cluster ' +
            '(a TLS or SASL listener also needs its security.protocol: README, "Production")'
        : `cannot reach Kafka at ${brokers.join(',')} over ${protocol} (${cause}): check that the cluster runs and that these are ${protocol} listeners (security.protocol, --brokers)`,
    );
    this.name = 'KafkaUnreachableError';
  }
}

/** The one line for a refused connection: what was refused and the setting that fixes it. */
function refusalText(brokers: readonly string[], sasl: SaslSettings | undefined, refusal: ConnectionRefusal): string {
  const at = `Kafka at ${brokers.join(',')}`;
  switch (refusal.kind) {
    case 'sasl':
      return sasl
        ? `${at} refused SASL ${sasl.mechanism} authentication of user "${sasl.username}" (${refusal.message}): check sasl.username and sasl.password (from ${sasl.source})`
        : `${at} asks for SASL authentication (${refusal.message}): set security.protocol=SASL_SSL (or SASL_PLAINTEXT), sasl.mechanism, sasl.username and sasl.password in the config file`;
    case 'sasl-listener':
      return `${at} does not accept SASL ${sasl?.mechanism ?? ''} on this port (${refusal.message}): check security.protocol and the port (a PLAINTEXT or SSL listener takes no SASL), and that the listener enables this sasl.mechanism`;
    case 'tls':
      return `TLS with ${at} failed (${refusal.message}): ${tlsFailureHint(refusal.code, 'ssl.') ?? 'check the ssl.* settings'}`;
  }
}

/** The broker refused the connection as configured (SASL, TLS): retrying cannot help. */
export class KafkaRefusedError extends Error {
  constructor(brokers: readonly string[], security: KafkaSecurity | undefined, refusal: ConnectionRefusal) {
    super(refusalText(brokers, security?.sasl, refusal));
    this.name = 'KafkaRefusedError';
  }
}

function saslOptions(sasl: SaslSettings): SASLOptions {
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'PLAIN':
      return { mechanism: 'plain', username, password };
    case 'SCRAM-SHA-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'SCRAM-SHA-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

/** kafkajs' `ssl` and `sasl` client options for the configured security (none for PLAINTEXT). */
export function kafkajsSecurityOptions(security: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (security === undefined) return {};
  const { tls, sasl } = security;
  let ssl: ConnectionOptions | undefined;
  if (tls) {
    ssl = {
      rejectUnauthorized: true,
      ...(tls.ca === undefined ? {} : { ca: [tls.ca] }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
      ...(tls.keyPassword === undefined ? {} : { passphrase: tls.keyPassword }),
      // ssl.endpoint.identification.algorithm=none: the chain is verified, the host name is not.
      ...(tls.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
    };
  }
  return { ...(ssl ? { ssl } : {}), ...(sasl ? { sasl: saslOptions(sasl) } : {}) };
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
      process.stderr.write(redactSecrets(`[kafka ${entry.label} ${entry.namespace}] ${message}${detail}\n`));
    };
}

/** How long the first contact waits for each answer (kafkajs' default, 30 s, is kept for the work after it). */
const PROBE_REQUEST_MS = 10_000;

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
    const client = (retry?: RetryOptions, requestTimeout?: number): Kafka =>
      new KafkaClient({
        clientId: 'skewless',
        brokers: [...options.brokers],
        ...kafkajsSecurityOptions(options.security),
        connectionTimeout: 3000,
        requestTimeout,
        logLevel: verbose ? logLevel.INFO : logLevel.NOTHING,
        logCreator: stderrLogger(verbose),
        retry,
      });
    // The retry budget of the initial connection is the client's (kafkajs ignores an admin's own),
    // hence a separate client for the probe. Its requests wait PROBE_REQUEST_MS, not kafkajs'
    // 30 s: a paused broker takes the connection (the kernel accepts it) and answers nothing.
    const probe = client({ retries: 1, initialRetryTime: 200, maxRetryTime: 1000 }, PROBE_REQUEST_MS).admin();
    const started = performance.now();
    try {
      await probe.connect();
      // A metadata request proves that a broker answers, not just that a socket opened.
      await probe.listTopics();
    } catch (e) {
      await probe.disconnect().catch(() => undefined);
      const refusal = connectionRefusal(e);
      if (refusal !== undefined) throw new KafkaRefusedError(options.brokers, options.security, refusal);
      // A refused or unresolvable address fails at once; only a broker that took the connection makes the probe wait out a request.
      const silent = performance.now() - started >= PROBE_REQUEST_MS ? PROBE_REQUEST_MS : undefined;
      throw new KafkaUnreachableError(options.brokers, kafkaErrorText(e), options.security?.protocol, silent);
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
