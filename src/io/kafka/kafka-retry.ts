/**
 * Retrying Kafka calls through readiness races. A healthy cluster still answers "not yet" for
 * a moment: right after a topic is created (no leader yet, the partition not in a broker's
 * metadata), when a group's coordinator moves or loads, or while a broker restarts. kafkajs
 * retries some of these internally, but with a budget that is not always enough and not for
 * every call. `withKafkaRetry` adds a bounded, deterministic back-off on top, for transient
 * errors only: everything else (a missing topic, a wrong partition count, a group with running
 * members) fails at once.
 */
import { tlsErrorText } from '../tls-failure.js';

export interface KafkaRetryOptions {
  /** Give up once this much time has passed since the first attempt (default 30 s). */
  readonly deadlineMs?: number;
  /** Pause after the first failure (default 100 ms); it doubles per attempt... */
  readonly initialMs?: number;
  /** ...up to this (default 2 s). */
  readonly maxMs?: number;
  /** Where the one "retrying" line goes (default stderr). */
  readonly log?: (line: string) => void;
  /** Say nothing while the retrying has lasted less than this (default 0: say it at the first retry); for waits that are normal, such as a topic just created. */
  readonly quietForMs?: number;
}

/** Kafka error types that mean "not ready yet" (kafkajs' names, and Kafka's where they differ). */
const TRANSIENT_TYPES = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'REQUEST_TIMED_OUT',
  'BROKER_NOT_AVAILABLE',
  'REPLICA_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'GROUP_LOAD_IN_PROGRESS',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR_FOR_GROUP',
  'NOT_COORDINATOR',
  'NOT_CONTROLLER',
  'NOT_ENOUGH_REPLICAS',
  'KAFKA_STORAGE_ERROR',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'OFFSET_NOT_AVAILABLE',
]);

/** The same errors by protocol error code (3, 5-9, 13-16, 19, 41, 56, 74, 75, 78). */
const TRANSIENT_CODES = new Set([3, 5, 6, 7, 8, 9, 13, 14, 15, 16, 19, 41, 56, 74, 75, 78]);

/** kafkajs errors that are transient whatever their flag says (it gave up on its own budget). */
const TRANSIENT_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSLockTimeout',
]);

/** Socket errors of a broker that is restarting. */
const TRANSIENT_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** The messages of the errors above, for when only the text survived a re-wrap. */
const TRANSIENT_MESSAGE =
  /does not host this topic-partition|not the correct coordinator for this group|coordinator is loading|group coordinator is not available|no leader for this topic-partition|not the leader for that topic-partition/i;

interface ErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly type?: unknown;
  readonly code?: unknown;
  readonly retriable?: unknown;
  /** KafkaJSAggregateError: one error per topic or broker. */
  readonly errors?: unknown;
  readonly originalError?: unknown;
  readonly cause?: unknown;
}

/** The error and the errors it wraps (kafkajs: originalError, cause), outermost first. */
export function errorChain(e: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  let cur: unknown = e;
  while (cur !== null && typeof cur === 'object' && !chain.includes(cur as ErrorLike) && chain.length < 10) {
    const err = cur as ErrorLike;
    chain.push(err);
    cur = err.originalError ?? err.cause;
  }
  return chain;
}

/** SASL refusals: wrong credentials (kafkajs' error, SASL_AUTHENTICATION_FAILED = 58). */
const SASL_CREDENTIALS = { names: new Set(['KafkaJSSASLAuthenticationError']), types: new Set(['SASL_AUTHENTICATION_FAILED']), codes: new Set([58]) };
/** A listener that does not take this mechanism (UNSUPPORTED_SASL_MECHANISM = 33) or no SASL at all (ILLEGAL_SASL_STATE = 34). */
const SASL_LISTENER = { types: new Set(['UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE']), codes: new Set([33, 34]) };

/** Node's codes of TLS failures that repeat on every attempt (a socket error like ECONNRESET does not). */
const TLS_REFUSAL = /^(ERR_SSL_|ERR_TLS_|SELF_SIGNED_CERT_IN_CHAIN$|DEPTH_ZERO_SELF_SIGNED_CERT$|UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT|GET_ISSUER_CERT_LOCALLY)$|CERT_)/;

/** A connection the broker refuses as configured: why, or undefined when `e` is no such refusal. */
export interface ConnectionRefusal {
  /** sasl: credentials refused; sasl-listener: the listener does not take this mechanism or SASL at all. */
  readonly kind: 'sasl' | 'sasl-listener' | 'tls';
  /** The message of the error that says so. */
  readonly message: string;
  /** Node's TLS error code, for kind 'tls'. */
  readonly code?: string;
}

/**
 * Whether `e` (or an error it wraps) says the broker refused the connection as configured:
 * SASL authentication failed, or TLS cannot succeed. Retrying would only hide the cause.
 */
export function connectionRefusal(e: unknown): ConnectionRefusal | undefined {
  for (const err of errorChain(e)) {
    const message = (typeof err.message === 'string' ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
    if (
      (typeof err.name === 'string' && SASL_CREDENTIALS.names.has(err.name)) ||
      (typeof err.type === 'string' && SASL_CREDENTIALS.types.has(err.type)) ||
      (typeof err.code === 'number' && SASL_CREDENTIALS.codes.has(err.code))
    ) {
      return { kind: 'sasl', message };
    }
    if ((typeof err.type === 'string' && SASL_LISTENER.types.has(err.type)) || (typeof err.code === 'number' && SASL_LISTENER.codes.has(err.code))) return { kind: 'sasl-listener', message };
    if (typeof err.code === 'string' && TLS_REFUSAL.test(err.code)) return { kind: 'tls', message: tlsErrorText(message), code: err.code };
  }
  return undefined;
}

/**
 * Whether `e` is a transient Kafka condition worth retrying: kafkajs flags it retriable (for
 * protocol errors, Kafka's own classification), or it or an error it wraps is one of the
 * readiness errors (by type, code, kafkajs error name, socket errno or message), or an aggregate
 * of such errors only, and never a refused SASL or TLS handshake (connectionRefusal). kafkajs'
 * "number of retries exceeded" is not retriable itself but wraps what it gave up on.
 */
export function isRetriableKafkaError(e: unknown): boolean {
  // kafkajs wraps a refused handshake in a connection error, which is otherwise transient.
  if (connectionRefusal(e) !== undefined) return false;
  return errorChain(e).some(
    (err) =>
      // An aggregate (e.g. createTopics of several topics) is worth repeating only when all its parts are.
      (Array.isArray(err.errors) && err.errors.length > 0 ? err.errors.every(isRetriableKafkaError) : false) ||
      err.retriable === true ||
      (typeof err.type === 'string' && TRANSIENT_TYPES.has(err.type)) ||
      (typeof err.code === 'number' && TRANSIENT_CODES.has(err.code)) ||
      (typeof err.code === 'string' && TRANSIENT_ERRNOS.has(err.code)) ||
      (typeof err.name === 'string' && TRANSIENT_NAMES.has(err.name)) ||
      (typeof err.message === 'string' && TRANSIENT_MESSAGE.test(err.message)),
  );
}

/** The root cause's message: kafkajs wraps the error that helps in "number of retries exceeded". */
export function kafkaErrorText(e: unknown): string {
  const chain = errorChain(e);
  const root = chain[chain.length - 1];
  const text = root === undefined ? String(e) : typeof root.message === 'string' && root.message !== '' ? root.message : String(root);
  return text.replace(/\s*\n\s*/g, ' ');
}

/** A condition the caller checks itself and that is expected to clear (e.g. a partition without a leader yet). */
export class KafkaNotReadyError extends Error {
  readonly retriable = true;
  constructor(message: string) {
    super(message);
    this.name = 'KafkaNotReadyError';
  }
}

/** Pause before attempt `retry` + 1 (retry 0 is the first retry): initialMs · 2^retry, at most maxMs. */
export function kafkaRetryDelay(retry: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(retry, 30));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const stderrLine = (line: string): void => void process.stderr.write(`${line}\n`);

/**
 * Run `op`, retrying transient Kafka errors (isRetriableKafkaError) with exponential back-off
 * until `deadlineMs` has passed. The first retry logs one line; later ones are quiet. Other
 * errors are rethrown at once; at the deadline the error names `what`, the last error and how
 * long it tried. `op` must be safe to repeat.
 */
export async function withKafkaRetry<T>(what: string, op: () => Promise<T>, opts: KafkaRetryOptions = {}): Promise<T> {
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const initialMs = opts.initialMs ?? 100;
  const maxMs = opts.maxMs ?? 2000;
  const log = opts.log ?? stderrLine;
  const quietForMs = opts.quietForMs ?? 0;
  const started = Date.now();
  let logged = false;
  for (let retry = 0; ; retry++) {
    try {
      return await op();
    } catch (e) {
      if (!isRetriableKafkaError(e)) throw e;
      const elapsed = Date.now() - started;
      if (elapsed >= deadlineMs) {
        const tried = `${(elapsed / 1000).toFixed(1)}s`;
        throw new Error(`${what} failed after retrying for ${tried} (${retry + 1} attempts): ${kafkaErrorText(e)}`, { cause: e });
      }
      if (!logged && elapsed >= quietForMs) {
        logged = true;
        log(`skewless: ${what}: ${kafkaErrorText(e)}; retrying for up to ${Math.ceil(deadlineMs / 1000)}s`);
      }
      await sleep(Math.min(kafkaRetryDelay(retry, initialMs, maxMs), deadlineMs - elapsed));
    }
  }
}
