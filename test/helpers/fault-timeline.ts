/**
 * What a fault test against a running worker needs to explain a failure: the test's steps and
 * the worker's lines on one clock, and how far the worker's commits are behind the input.
 * Shared by the broker outage and broker hang tests.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { committedOffsets, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { sleep, type Worker } from './live-run.js';

/**
 * The test's steps and the worker's lines, each with the seconds since the test started, for a
 * failure report: it shows the last lines first, since a report cut short keeps its beginning.
 */
export class Timeline {
  private readonly lines: string[] = [];
  private readonly t0 = performance.now();

  mark(what: string): void {
    this.lines.push(`[${((performance.now() - this.t0) / 1000).toFixed(1)} s] ${what}`);
  }

  follow(w: Worker): void {
    let rest = '';
    w.stderr!.on('data', (s: string) => {
      const lines = (rest + s).split('\n');
      rest = lines.pop()!;
      for (const line of lines) this.mark(line);
    });
  }

  /** The whole timeline, after its last `last` lines (none when 0). */
  report(last = 40): string {
    const whole = `whole timeline:\n${this.lines.join('\n')}`;
    return last === 0 ? whole : `last ${Math.min(last, this.lines.length)} of ${this.lines.length} timeline lines:\n${this.lines.slice(-last).join('\n')}\n--- ${whole}`;
  }
}

export interface CommitProgress {
  /** Every partition committed up to its end offset. */
  readonly all: boolean;
  /** Input records committed, summed over the partitions. */
  readonly committed: number;
  /** Input records committed per partition, by partition number. */
  readonly byPartition: readonly number[];
  /** Per partition, "partition/committed/end". */
  readonly shown: string;
}

/** The group's commits on `topic` against its end offsets; undefined while the broker does not answer. */
export async function commitProgress(brokers: readonly string[], group: string, topic: string): Promise<CommitProgress | undefined> {
  const conn = await KafkaConnection.open({ brokers }).catch(() => undefined);
  if (conn === undefined) return undefined;
  try {
    const ends = (await fetchOffsets(conn, topic)).sort((a, b) => a.partition - b.partition);
    const committed = new Map((await committedOffsets(conn, group, topic)).map((p) => [p.partition, p.offset]));
    const byPartition = ends.map((e) => committed.get(e.partition) ?? 0);
    return {
      all: ends.every((e, i) => byPartition[i] >= e.high),
      committed: byPartition.reduce((n, c) => n + c, 0),
      byPartition,
      shown: ends.map((e, i) => `${e.partition}/${byPartition[i]}/${e.high}`).join(' '),
    };
  } catch {
    return undefined;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/**
 * Wait until the group has committed every input record of `topic`, failing with the timeline
 * when the worker exits or `limitMs` passes. Reports the seconds it took as a diagnostic, and a
 * catch-up slower than `slowMs` prints its whole timeline too, so a slow run shows before it fails.
 */
export async function awaitCaughtUp(tc: TestContext, o: { brokers: readonly string[]; group: string; topic: string; worker: Worker; timeline: Timeline; limitMs: number; slowMs: number; since?: string }): Promise<void> {
  const started = Date.now();
  for (let progress = await commitProgress(o.brokers, o.group, o.topic); progress?.all !== true; progress = await commitProgress(o.brokers, o.group, o.topic)) {
    assert.equal(o.worker.exitCode, null, `worker exited:\n${o.timeline.report()}`);
    assert.ok(Date.now() - started < o.limitMs, `not caught up after ${o.limitMs / 1000} s (partition/committed/end: ${progress?.shown ?? 'no answer'}):\n${o.timeline.report()}`);
    await sleep(1000);
  }
  o.timeline.mark('test: every input committed');
  const tookMs = Date.now() - started;
  tc.diagnostic(`every input committed ${(tookMs / 1000).toFixed(1)} s after ${o.since ?? 'the last was produced'}`);
  if (tookMs > o.slowMs) for (const line of o.timeline.report(0).split('\n')) tc.diagnostic(line);
}
