import { Worker, type MessagePort } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import type { InputRange } from '../engine/input.js';
import type { TrainingFileSummary } from '../io/files/parquet-training-writer.js';
import type { ReplaySummary } from './replay-partitions.js';
import type { ReplayJob, ReplayStage, ReplayWorkerData, ReplayWorkerMessage, ReplayWorkerRequest } from './replay-worker-main.js';
import { holdSerialScavenges } from './serial-scavenges.js';
import type { AnsweredPartitions } from './replay-regrouped.js';

/** What one thread reports for a stage. */
export interface WorkerResult {
  readonly summary?: ReplaySummary;
  readonly files: readonly TrainingFileSummary[];
  /** Pass 2 (the answer stage): what it counted. */
  readonly answered?: AnsweredPartitions;
}

/** Starts one replay thread of the pool. */
export type ThreadStarter = (url: URL, workerData: ReplayWorkerData) => Worker;

interface Pending {
  readonly resolve: (r: WorkerResult) => void;
  readonly reject: (e: Error) => void;
}

/**
 * The replay's worker threads, started once and given one stage after another (a regrouped
 * replay has three). A thread loads TypeScript and the topology when it starts, about a second
 * of a short replay (a parity check of a regrouped topology took three of its twelve seconds
 * starting threads per pass). The job comes with each stage, so one pool can serve several
 * replays (an incremental parity run has two). Starting it before the input is known, while the
 * coordinator read parity's sample, did not measurably help on two vCPUs: the threads loading
 * compete with the coordinator.
 */
export class ReplayWorkerPool {
  private readonly threads: Worker[];
  private readonly pending: Array<Pending | undefined>;
  private readonly exited: Array<Promise<void> | undefined>;
  private ending = false;
  private closing: Promise<void> | undefined;
  private failure: Error | undefined;
  private progress: (processed: number) => void = () => {};
  /** Gives back the serial scavenges held while the threads run (serial-scavenges.ts). */
  private readonly releaseScavenges: () => void;

  /** `start` makes one thread (tests give one that fails). */
  constructor(data: Omit<ReplayWorkerData, 'worker'>, start: ThreadStarter = startThread) {
    // The threads and their coordinator.
    this.releaseScavenges = holdSerialScavenges(data.workers + 1);
    this.pending = new Array<Pending | undefined>(data.workers).fill(undefined);
    this.exited = new Array<Promise<void> | undefined>(data.workers).fill(undefined);
    const threads: Worker[] = [];
    try {
      for (let worker = 0; worker < data.workers; worker++) threads.push(this.startWorker(start, data, worker));
    } catch (e) {
      // A thread that could not be created (no memory or threads left): the ones already running
      // would keep the process alive with no pool to end them.
      this.ending = true;
      for (const w of threads) void w.terminate();
      this.releaseScavenges();
      throw e;
    }
    this.threads = threads;
  }

  /** Thread `worker`, its messages and its exit wired to the pending stages. */
  private startWorker(start: ThreadStarter, data: Omit<ReplayWorkerData, 'worker'>, worker: number): Worker {
    const w = start(new URL('./replay-worker.mjs', import.meta.url), { ...data, worker });
    w.on('message', (m: ReplayWorkerMessage) => {
      if (m.type === 'progress') this.progress(m.processed);
      else if (m.type === 'done') this.settle(worker, { summary: m.summary, files: m.summary.files });
      else if (m.type === 'files') this.settle(worker, { files: m.files, answered: m.answered });
      else this.fail(worker, new Error(m.message));
    });
    w.on('error', (e) => this.fail(worker, outOfMemory(e, worker)));
    this.exited[worker] = new Promise<void>((resolve) =>
      w.once('exit', (code) => {
        if (!this.ending || this.pending[worker] !== undefined) this.fail(worker, new Error(`replay worker ${worker} exited with code ${code} before finishing`));
        resolve();
      }),
    );
    return w;
  }

  /** The number of threads. */
  get size(): number {
    return this.threads.length;
  }

  /**
   * Run `stage` of `job` on every thread, thread i on `shares[i]` (default: the partitions p
   * with p mod threads = i); `progress` gets each thread's processed records as they come.
   * With `sliced`, thread i receives that source's records over `ports[i]` (slice-feed.ts).
   */
  run(
    stage: ReplayStage['stage'],
    job: ReplayJob,
    progress: (processed: number) => void,
    shares?: readonly (readonly number[])[],
    inputRanges?: readonly InputRange[],
    sliced?: { readonly source: string; readonly ports: readonly MessagePort[] },
  ): Promise<WorkerResult[]> {
    this.progress = progress;
    return Promise.all(
      this.threads.map((w, i) => {
        if (this.failure !== undefined) return Promise.reject(this.failure);
        const result = new Promise<WorkerResult>((resolve, reject) => (this.pending[i] = { resolve, reject }));
        const port = sliced?.ports[i];
        const message = { stage, job, partitions: shares?.[i], inputRanges, sliced: port === undefined ? undefined : { source: sliced!.source, port } } satisfies ReplayWorkerRequest;
        w.postMessage(message, port === undefined ? [] : [port]);
        return result;
      }),
    );
  }

  /** Let every thread finish and wait for it; after a failure, stop them. Closing again waits for the same end. */
  close(): Promise<void> {
    return (this.closing ??= this.end());
  }

  private async end(): Promise<void> {
    this.ending = true;
    for (const w of this.threads) {
      if (this.failure !== undefined) void w.terminate();
      else w.postMessage({ stage: 'end' } satisfies ReplayWorkerRequest);
    }
    try {
      await Promise.all(this.exited);
    } finally {
      this.releaseScavenges();
    }
  }

  private settle(worker: number, r: WorkerResult): void {
    const p = this.pending[worker];
    this.pending[worker] = undefined;
    p?.resolve(r);
  }

  private fail(worker: number, e: Error): void {
    const p = this.pending[worker];
    this.pending[worker] = undefined;
    this.failure ??= e;
    p?.reject(e);
  }
}

/**
 * A thread with the coordinator's Node flags less a tsx loader given on the command line
 * (`node --import tsx`, as the benchmarks start): the thread registers tsx itself, only when
 * its bundle cannot be used (replay-worker.mjs), so a bundled thread does not load tsx and route
 * every import through its hooks. V8 flags are left out too (Node refuses them per thread; they
 * apply to the whole process anyway).
 */
function startThread(url: URL, workerData: ReplayWorkerData): Worker {
  let execArgv = withoutTsxLoader(process.execArgv);
  for (;;) {
    try {
      return new Worker(url, { workerData, execArgv });
    } catch (e) {
      const refused = (e as NodeJS.ErrnoException).code === 'ERR_WORKER_INVALID_EXEC_ARGV' ? /flags: (.*)$/.exec((e as Error).message)?.[1]?.split(', ') : undefined;
      if (refused === undefined || !refused.every((f) => execArgv.includes(f))) return new Worker(url, { workerData });
      execArgv = execArgv.filter((f) => !refused.includes(f));
    }
  }
}

/** Node flags without `--import tsx` (or `--loader tsx`, or a tsx subpath). */
export function withoutTsxLoader(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '--import' || a === '--loader' || a === '--experimental-loader') && /^tsx(\/|$)/.test(argv[i + 1] ?? '')) i++;
    else if (!/^--(import|loader|experimental-loader)=tsx(\/|$)/.test(a)) out.push(a);
  }
  return out;
}

/**
 * A thread that ran out of heap says which limit it hit and what to do, instead of Node's
 * ERR_WORKER_OUT_OF_MEMORY alone. Tasks lower their cache bounds when the heap runs short
 * (heap-pressure.ts), so what fills it then is more than the keys' state: a single batch's rows,
 * a table's versions, or a limit too small for the topology.
 */
function outOfMemory(e: Error, worker: number): Error {
  if ((e as NodeJS.ErrnoException).code !== 'ERR_WORKER_OUT_OF_MEMORY') return e;
  const limit = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
  return new Error(
    `replay thread ${worker} ran out of JavaScript heap (about ${limit} MiB per thread): give it more with NODE_OPTIONS=--max-old-space-size=<MiB>, ` +
      'or run fewer threads (--workers) or a smaller --batch-size, or keep fewer keys in memory (--cache-keys)',
  );
}
