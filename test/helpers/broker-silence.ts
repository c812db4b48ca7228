/**
 * Whether a Kafka broker answers at all, asked below any client library: one ApiVersions v0
 * request on a fresh socket. A fault test that pauses the broker (SIGSTOP) checks with it that
 * the pause has taken hold before it measures how clients behave against a silent broker:
 * `kill` only queues the signal, and a test that probed a broker still answering would test
 * nothing (or fail for the wrong reason).
 */
import { connect } from 'node:net';
import { sleep } from './live-run.js';

export type BrokerAnswer = 'answered' | 'silent' | 'refused';

/** Send ApiVersions v0 to host:port and wait up to `waitMs` for the first byte of an answer. */
export function brokerAnswer(hostPort: string, waitMs: number): Promise<BrokerAnswer> {
  const i = hostPort.lastIndexOf(':');
  const clientId = Buffer.from('skewless-test');
  // size, api key 18 (ApiVersions), version 0, correlation id, client id (int16 length + bytes)
  const request = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
  request.writeInt32BE(request.length - 4, 0);
  request.writeInt16BE(18, 4);
  request.writeInt16BE(0, 6);
  request.writeInt32BE(1, 8);
  request.writeInt16BE(clientId.length, 12);
  clientId.copy(request, 14);
  return new Promise((resolve) => {
    const socket = connect({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) });
    const done = (a: BrokerAnswer): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => done('silent'), waitMs);
    socket.once('connect', () => socket.write(request));
    socket.once('data', () => done('answered'));
    socket.once('error', () => done('refused'));
  });
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
