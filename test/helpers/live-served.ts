/**
 * Waiting for a live run to have served a known set of vectors. Committed input offsets are not
 * enough for a regrouped topology (card-fraud's merchant features and tier): a row leaves only
 * once the regrouped task's answer came back, and the rows of the last `grace − lag` of event
 * time only once every task has been caught up and quiet for `--idle-ms`. A feature topic that
 * merely stopped growing for a poll or two can be such a wait, so tests wait for the rows the
 * offline replay of the same topics computed.
 */
import type { OutputProgram } from '../../src/engine/program.js';
import { readLiveVectors, topicEndOffsets, until, type Worker } from './live-run.js';

export interface ServedWait {
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  readonly output: OutputProgram;
  /** The live feature topic. */
  readonly topic: string;
  /** `<partition>/<offset>` of every row that must be served (e.g. the keys of readReplayVectors). */
  readonly expected: Iterable<string>;
  /** Workers whose exit ends the wait with their logs. */
  readonly workers: readonly Worker[];
  readonly timeoutMs?: number;
}

/** The expected ids without a committed vector in the topic yet. */
export async function unserved(o: Omit<ServedWait, 'workers' | 'timeoutMs'>): Promise<string[]> {
  const served = new Set((await readLiveVectors(o.brokers, o.registryUrl, o.output, o.topic)).map((v) => v.id));
  return [...o.expected].filter((id) => !served.has(id));
}

/** Wait until every expected row has a committed vector in the topic, while the workers run. */
export async function servedAll(o: ServedWait): Promise<void> {
  const expected = [...o.expected];
  let missing: string[] = expected;
  let records = 0;
  try {
    await until(
      `a vector for each of the ${expected.length} replayed rows`,
      o.workers,
      async () => {
        // The end offsets (records, aborted ones and transaction markers included) bound the vectors
        // from above: reading and decoding the whole topic is only worth it once they could suffice.
        records = await topicEndOffsets(o.brokers, o.topic);
        if (records < expected.length) return false;
        missing = await unserved({ ...o, expected });
        return missing.length === 0;
      },
      o.timeoutMs ?? 120_000,
      1000,
    );
  } catch (e) {
    // Which rows are missing tells a slow idle release (the last rows of each partition) from a lost row.
    let which = `${missing.length} rows not served, e.g. ${missing.slice(0, 10).join(', ')}`;
    if (records < expected.length) {
      // Per partition: a row waiting for its answer holds back the rest of its partition (rows go out in offset order).
      const served = new Map<number, number>();
      for (const v of await readLiveVectors(o.brokers, o.registryUrl, o.output, o.topic)) served.set(v.partition, (served.get(v.partition) ?? 0) + 1);
      const wanted = new Map<number, number>();
      for (const id of expected) wanted.set(Number(id.split('/')[0]), (wanted.get(Number(id.split('/')[0])) ?? 0) + 1);
      which = `the topic's end offsets add up to ${records} only; vectors per partition served / expected: ${[...wanted].sort((a, b) => a[0] - b[0]).map(([p, n]) => `${p}: ${served.get(p) ?? 0} / ${n}`).join(', ')}`;
    }
    throw new Error(`${which}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
