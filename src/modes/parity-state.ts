/**
 * The state an incremental `skewless parity --state <dir>` keeps between runs: one LevelDB per
 * task holding the sampled keys' state at a canonical frontier (replay-partitions.ts
 * stopAtFrontier), plus `parity-state.json` saying what it was computed for. A state is only
 * continued by the same topology version, sampling rate and topics; anything else would check
 * live vectors against state of another computation.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskMeta } from '../engine/task.js';
import { KeySampler } from '../parity/sampler.js';
import type { ParityEntry } from '../parity/parity-log.js';
import { readCheckpoints } from './bootstrap.js';

const FILE = 'parity-state.json';
const FORMAT = 1;

/** What a parity state was computed for. */
export interface ParityStateInfo {
  readonly format: number;
  readonly topology: string;
  readonly version: string;
  readonly rate: number;
  /** Engine source → topic. */
  readonly topics: Readonly<Record<string, string>>;
}

function describe(i: ParityStateInfo): string {
  return `topology ${i.topology} version ${i.version}, --parity-rate ${i.rate}, topics ${Object.entries(i.topics).map(([s, t]) => `${s}=${t}`).join(',')}`;
}

/**
 * Checks that `dir` is empty or a parity state for `want`, and returns every task's
 * checkpoint (none for a new state). Throws a one-line error saying how to proceed otherwise.
 */
export async function openParityState(dir: string, want: ParityStateInfo): Promise<Map<number, TaskMeta>> {
  const infoFile = join(dir, FILE);
  if (!existsSync(infoFile)) {
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      throw new Error(`--state ${dir} is not empty and holds no ${FILE}: it is not a parity state (a live or backfill state is never reused by parity); pass an empty or new directory`);
    }
    return new Map();
  }
  let have: ParityStateInfo;
  try {
    have = JSON.parse(readFileSync(infoFile, 'utf8')) as ParityStateInfo;
  } catch (e) {
    throw new Error(`${infoFile} is not valid JSON (${e instanceof Error ? e.message : String(e)}): remove ${dir} and run again to rebuild the parity state`);
  }
  if (describe(have) !== describe(want) || have.format !== FORMAT) {
    throw new Error(`parity state ${dir} was computed for ${describe(have)}, this run is for ${describe(want)}: pass a new --state directory (the first run replays the whole history)`);
  }
  return readCheckpoints(dir);
}

/** Records what the state in `dir` was computed for, after a run has checkpointed it. */
export function saveParityState(dir: string, info: ParityStateInfo): void {
  writeFileSync(join(dir, FILE), `${JSON.stringify(info, null, 2)}\n`);
}

export function parityStateInfo(topology: string, version: string, rate: number, topics: Readonly<Record<string, string>>): ParityStateInfo {
  return { format: FORMAT, topology, version, rate, topics };
}

/** Every sampled key must be one the state holds: the live rate must not exceed the one given. */
export function checkSampledKeys(entries: readonly ParityEntry[], rate: number): void {
  const sampler = new KeySampler(rate);
  const outside = entries.find((e) => !sampler.selects(e.key));
  if (outside !== undefined) {
    throw new Error(
      `sampled key ${JSON.stringify(outside.key)} (${outside.topic}/${outside.partition}@${outside.offset}) is not selected at --parity-rate ${rate}: ` +
        'pass the rate the live workers sample at (skewless run --parity-rate), and a new --state directory if it changed',
    );
  }
}
