/**
 * `skewless parity` end to end (DESIGN.md, "Parity"): read the parity log, recompute the same
 * vectors offline by replaying the source topics through the same engine (replayKafka, into a
 * temporary directory), and compare them with the sampled ones (parity/parity-run.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../engine/program.js';
import { compareWithReplay, readParitySample, type ParityRunOptions, type ParityRunResult } from '../parity/parity-run.js';
import { replayKafka } from './replay-kafka.js';

/** Replays the sources and compares every sampled vector with its recomputation. */
export async function runParity(opts: ParityRunOptions): Promise<ParityRunResult> {
  const started = Date.now();
  const { plan } = opts;
  const program = buildProgram(plan);
  const sample = await readParitySample(opts);

  const out = mkdtempSync(join(tmpdir(), 'skewless-parity-'));
  try {
    const droppedLateDir = join(out, '_dropped_late');
    await replayKafka({ plan, brokers: opts.brokers, registryUrl: opts.registryUrl, topics: opts.topics, out, droppedLateDir, workers: opts.workers, verbose: opts.verbose });
    return await compareWithReplay(opts, program, sample, { out, droppedLateDir }, started);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
