import { parentPort, workerData } from 'node:worker_threads';
import { loadTopology } from '../plan/load-topology.js';
import type { ReplayInputSpec } from './replay-input.js';
import { replayPartitions, type KeySelection, type ReplaySummary } from './replay-partitions.js';

/** What the coordinating thread sends a replay worker. */
export interface ReplayWorkerData {
  readonly topologyFile: string;
  readonly version: string;
  readonly input: ReplayInputSpec;
  readonly out: string;
  readonly stateDir: string;
  readonly deadLetterDir?: string;
  readonly droppedLateDir?: string;
  readonly keys?: KeySelection;
  readonly stopAtFrontier?: boolean;
  readonly worker: number;
  readonly workers: number;
}

export type ReplayWorkerMessage =
  | { readonly type: 'progress'; readonly processed: number }
  | { readonly type: 'done'; readonly summary: ReplaySummary }
  | { readonly type: 'error'; readonly message: string };

const data = workerData as ReplayWorkerData;
const post = (m: ReplayWorkerMessage): void => parentPort!.postMessage(m);

try {
  const plan = await loadTopology(data.topologyFile);
  if (plan.version !== data.version) throw new Error(`topology ${data.topologyFile} changed while the backfill was starting (version ${plan.version}, expected ${data.version})`);
  let reported = 0;
  // Posted often enough for a smooth progress bar, rarely enough to cost nothing (the clock drives display only).
  let postedAt = Date.now();
  const summary = await replayPartitions({
    plan,
    input: data.input,
    out: data.out,
    stateDir: data.stateDir,
    deadLetterDir: data.deadLetterDir,
    droppedLateDir: data.droppedLateDir,
    keys: data.keys,
    stopAtFrontier: data.stopAtFrontier,
    partitionFilter: (p) => p % data.workers === data.worker,
    onProgress: (n) => {
      if (n - reported >= 65536 || (n > reported && Date.now() - postedAt >= 250)) {
        post({ type: 'progress', processed: n - reported });
        reported = n;
        postedAt = Date.now();
      }
    },
  });
  post({ type: 'progress', processed: summary.counters.processed - reported });
  post({ type: 'done', summary });
} catch (e) {
  post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}
