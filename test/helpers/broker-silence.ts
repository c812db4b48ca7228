/**
 * Whether a Kafka broker answers at all, asked below any client library: one Metadata request on
 * a fresh socket (scripts/stack's probe). A fault test that pauses the broker (SIGSTOP) checks with it that
 * the pause has taken hold before it measures how clients behave against a silent broker:
 * `kill` only queues the signal, and a test that probed a broker still answering would test
 * nothing (or fail for the wrong reason).
 */
import { probeKafka } from '../../scripts/stack/stack.mjs';
import { sleep } from './live-run.js';

export type BrokerAnswer = 'answered' | 'silent' | 'refused';

/** Whether the broker at host:port answers a metadata request (the stack's own probe) within `waitMs`. */
export async function brokerAnswer(hostPort: string, waitMs: number): Promise<BrokerAnswer> {
  try {
    await probeKafka(hostPort, waitMs);
    return 'answered';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'silent' : 'refused';
  }
}

/**
 * Milliseconds until the broker at hostPort stops answering (asked every 200 ms, each time
 * waiting `silenceMs` for an answer); throws when it still answers after `limitMs`.
 */
export async function awaitBrokerSilent(hostPort: string, limitMs: number, silenceMs = 1000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const answer = await brokerAnswer(hostPort, silenceMs);
    if (answer === 'silent') return Date.now() - started - silenceMs;
    if (Date.now() - started > limitMs) throw new Error(`the broker at ${hostPort} still ${answer === 'answered' ? 'answers' : 'refuses connections'} ${limitMs / 1000} s after it was paused`);
    await sleep(200);
  }
}
