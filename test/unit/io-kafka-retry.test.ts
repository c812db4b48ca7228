/**
 * withKafkaRetry and isRetriableKafkaError on kafkajs' own error classes: protocol errors made
 * by kafkajs from the broker's error codes (as a response decoder makes them), its wrappers,
 * and a real "connection refused" from a kafkajs client pointed at a closed loopback port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import kafkajs from '../../src/io/kafka/kafkajs-runtime.js';
import { isRetriableKafkaError, kafkaErrorText, kafkaRetryDelay, KafkaNotReadyError, withKafkaRetry } from '../../src/io/kafka/kafka-retry.js';

const require = createRequire(import.meta.url);
/** kafkajs' decoder path: broker error code → KafkaJSProtocolError with kafkajs' type, message and retriable flag. */
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode: (code: number) => Error };
/** Exported by kafkajs but missing from its typings. */
const { KafkaJSCreateTopicError } = require('kafkajs/src/errors.js') as { KafkaJSCreateTopicError: new (e: Error, topic: string) => Error };
const {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSRequestTimeoutError,
} = kafkajs;

const CODES = {
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
} as const;

test('readiness errors from the broker are retriable, by kafkajs type and Kafka message', () => {
  for (const name of ['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_OR_FOLLOWER', 'REQUEST_TIMED_OUT', 'COORDINATOR_LOAD_IN_PROGRESS', 'COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR'] as const) {
    const e = createErrorFromCode(CODES[name]);
    assert.equal(e.name, 'KafkaJSProtocolError');
    assert.ok(isRetriableKafkaError(e), `${name}: ${e.message}`);
  }
  assert.equal(createErrorFromCode(3).message, 'This server does not host this topic-partition');
  assert.equal(createErrorFromCode(16).message, 'This is not the correct coordinator for this group');
  // Only the text survived (an error re-wrapped by a reader): still recognised.
  assert.ok(isRetriableKafkaError(new Error(`reading Kafka failed: ${createErrorFromCode(16).message}`)));
});

test('errors that waiting does not cure are not retriable', () => {
  for (const name of ['TOPIC_ALREADY_EXISTS', 'INVALID_PARTITIONS', 'TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED'] as const) {
    assert.ok(!isRetriableKafkaError(createErrorFromCode(CODES[name])), name);
  }
  assert.ok(!isRetriableKafkaError(new KafkaJSNonRetriableError('Consumer group was not initialized, consumer#run must be called first')));
  assert.ok(!isRetriableKafkaError(new KafkaJSNonRetriableError('The consumer group must have no running instances, current state: Stable')));
  assert.ok(!isRetriableKafkaError(new Error('Kafka topic "x" exists with 2 partitions, not 4')));
  assert.ok(!isRetriableKafkaError(new RangeError('partitions must be a positive integer')));
  assert.ok(!isRetriableKafkaError(undefined));
  assert.ok(!isRetriableKafkaError('a string'));
});

test('wrapped errors are classified by what they wrap', () => {
  // kafkajs gave up on its own retry budget: not retriable itself, but the cause is.
  const exhausted = new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(5), { retryCount: 5, retryTime: 3000 });
  assert.equal(exhausted.retriable, false);
  assert.ok(isRetriableKafkaError(exhausted));
  assert.equal(kafkaErrorText(exhausted), createErrorFromCode(5).message);
  assert.ok(!isRetriableKafkaError(new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(CODES.TOPIC_AUTHORIZATION_FAILED), { retryCount: 5, retryTime: 3000 })));
  assert.ok(isRetriableKafkaError(new Error('outer', { cause: createErrorFromCode(15) })));
  assert.ok(isRetriableKafkaError(Object.assign(new Error('legacy wrapper'), { originalError: createErrorFromCode(14) })));
  // createTopics of several topics: retriable only when every part is.
  const createError = (code: number, topic: string): Error => new KafkaJSCreateTopicError(createErrorFromCode(code), topic);
  assert.ok(isRetriableKafkaError(new KafkaJSAggregateError('Topic creation errors', [createError(41, 'a'), createError(5, 'b')])));
  assert.ok(!isRetriableKafkaError(new KafkaJSAggregateError('Topic creation errors', [createError(5, 'a'), createError(CODES.INVALID_PARTITIONS, 'b')])));
  // kafkajs errors that are not protocol errors.
  assert.ok(isRetriableKafkaError(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out')));
  // Its typings declare no constructor argument; kafkajs passes the message.
  const CoordinatorNotFound = KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error;
  assert.ok(isRetriableKafkaError(new CoordinatorNotFound('Failed to find group coordinator')));
  assert.ok(isRetriableKafkaError(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:19092', { code: 'ECONNREFUSED' })));
  assert.ok(isRetriableKafkaError(new KafkaNotReadyError('2 of 4 partitions have a leader')));
});

test('a real connection refused from kafkajs is retriable', async () => {
  // A loopback port that was just free: nothing listens there.
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  const admin = new kafkajs.Kafka({ clientId: 'retry-test', brokers: [`127.0.0.1:${port}`], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 0 } }).admin();
  const error = await admin.connect().then(
    () => undefined,
    (e: unknown) => e,
  );
  await admin.disconnect().catch(() => undefined);
  assert.ok(error instanceof Error, 'connect must fail');
  assert.match(kafkaErrorText(error), /ECONNREFUSED/);
  assert.ok(isRetriableKafkaError(error), `${error.name}: ${error.message}`);
});

test('back-off doubles from initialMs up to maxMs, the same every time', () => {
  const schedule = Array.from({ length: 8 }, (_, i) => kafkaRetryDelay(i, 100, 2000));
  assert.deepEqual(schedule, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
  assert.equal(kafkaRetryDelay(1000, 100, 2000), 2000);
});

test('withKafkaRetry retries transient errors, logs once, then returns the result', async () => {
  const lines: string[] = [];
  const attempts: number[] = [];
  const started = Date.now();
  const result = await withKafkaRetry(
    'creating Kafka topic "t"',
    async () => {
      attempts.push(Date.now() - started);
      if (attempts.length < 5) throw createErrorFromCode(attempts.length % 2 === 0 ? 5 : 3);
      return 'ok';
    },
    { initialMs: 20, maxMs: 40, log: (l) => lines.push(l) },
  );
  assert.equal(result, 'ok');
  assert.equal(attempts.length, 5);
  assert.deepEqual(lines, ['skewless: creating Kafka topic "t": This server does not host this topic-partition; retrying for up to 30s']);
  // Pauses 20, 40, 40, 40 ms (timers may fire late, never early).
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
  [20, 40, 40, 40].forEach((min, i) => assert.ok(gaps[i] >= min - 2, `pause ${i}: ${gaps[i]} ms < ${min}`));
});

test('withKafkaRetry with quietForMs says nothing about a short wait, and once about a long one', async () => {
  const run = async (failures: number, quietForMs: number): Promise<string[]> => {
    const lines: string[] = [];
    let attempts = 0;
    await withKafkaRetry(
      'waiting for Kafka topic "t" to get leaders',
      async () => {
        if (++attempts <= failures) throw new KafkaNotReadyError('topic "t" is not in the metadata yet');
        return 'ok';
      },
      { initialMs: 20, maxMs: 40, quietForMs, log: (l) => lines.push(l) },
    );
    return lines;
  };
  // Two retries take about 60 ms: under a 1 s quiet period, nothing is said.
  assert.deepEqual(await run(2, 1000), []);
  // Eight retries take about 300 ms: past a 100 ms quiet period, one line.
  assert.deepEqual(await run(8, 100), ['skewless: waiting for Kafka topic "t" to get leaders: topic "t" is not in the metadata yet; retrying for up to 30s']);
});

test('withKafkaRetry rethrows other errors at once, without logging', async () => {
  const lines: string[] = [];
  let calls = 0;
  const fatal = createErrorFromCode(CODES.INVALID_PARTITIONS);
  await assert.rejects(
    withKafkaRetry('creating Kafka topic "t"', async () => {
      calls++;
      throw fatal;
    }, { log: (l) => lines.push(l) }),
    (e) => e === fatal,
  );
  assert.equal(calls, 1);
  assert.deepEqual(lines, []);
});

test('withKafkaRetry gives up at the deadline with one line naming what, the last error and how long', async () => {
  const lines: string[] = [];
  let calls = 0;
  const started = Date.now();
  const error = await withKafkaRetry(
    'setting the offsets of consumer group "g"',
    async () => {
      calls++;
      throw new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(16), { retryCount: 5, retryTime: 100 });
    },
    { deadlineMs: 300, initialMs: 10, maxMs: 50, log: (l) => lines.push(l) },
  ).catch((e: unknown) => e);
  const took = Date.now() - started;
  assert.ok(error instanceof Error);
  assert.match(error.message, /^setting the offsets of consumer group "g" failed after retrying for 0\.\d+s \(\d+ attempts\): This is not the correct coordinator for this group$/);
  assert.doesNotMatch(error.message, /\n/);
  assert.ok(took >= 300 && took < 1500, `took ${took} ms`);
  // 10, 20, 40, then 50 ms pauses within 300 ms: about 8 attempts.
  assert.ok(calls >= 5 && calls <= 10, `${calls} attempts`);
  assert.equal(lines.length, 1);
  assert.equal(lines[0], 'skewless: setting the offsets of consumer group "g": This is not the correct coordinator for this group; retrying for up to 1s');
});
