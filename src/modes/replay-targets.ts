import { closeSync, existsSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What a replay writes into, and how it treats what is already there. skewless only ever
 * removes or replaces files it wrote itself: training files (`<out>/<output>/part-NNNNN.parquet`,
 * recognised by the skewless metadata in their footer), dead-letter and late-record files
 * (`part-NNNNN.ndjson` holding skewless records) and task state dirs (`<state>/task-NNNNN`).
 * Anything else makes it stop with an error rather than truncate a file it did not create.
 */
export interface ReplayTargets {
  readonly out: string;
  readonly deadLetterDir?: string;
  readonly stateDir?: string;
  /** Replace skewless's own files of an earlier run; without it a non-empty --out or --dead-letter, or a used --state, is refused. */
  readonly overwrite: boolean;
}

const TASK_DIR = /^task-\d+$/;
const TRAINING_FILE = /^part-\d{5}\.parquet$/;
const PARTIAL_FILE = /^\.part-\d{5}\.parquet\.partial$/;
const NDJSON_FILE = /^part-\d{5}\.ndjson$/;

/** The CLI's check before a backfill: refuse to mix runs unless --overwrite; with it, delete the used task state. */
export function prepareReplayTargets(t: ReplayTargets): void {
  if (!t.overwrite) {
    refuseNonEmpty(t.out, '--out', 'pass a new or empty directory, or --overwrite to replace the files of the earlier run');
    if (t.deadLetterDir !== undefined) refuseNonEmpty(t.deadLetterDir, '--dead-letter', 'pass a new or empty directory, or --overwrite to replace the dead letters of the earlier run');
  }
  if (t.stateDir === undefined) return;
  const tasks = taskDirs(t.stateDir);
  if (tasks.length === 0) return;
  if (!t.overwrite) {
    throw new Error(
      `--state ${t.stateDir} already holds task state (${tasks.slice(0, 3).join(', ')}${tasks.length > 3 ? ', ...' : ''}): a backfill on it would skip every record it already applied. Pass a new directory, or --overwrite to delete that task state first`,
    );
  }
  for (const d of tasks) rmSync(join(t.stateDir, d), { recursive: true, force: true });
}

/**
 * After a replay failed: the partial training files its threads left (a thread stopped
 * mid-file cannot remove its own), so nothing of the failed run takes space or looks like output.
 */
export function removePartialFiles(out: string): void {
  for (const name of list(out)) {
    const dir = join(out, name);
    if (!isDirectory(dir)) continue;
    for (const f of list(dir)) if (PARTIAL_FILE.test(f)) rmSync(join(dir, f), { force: true });
  }
}

/**
 * Before a replay writes: remove skewless's own output files of an earlier run from `out` and
 * the side-output dirs, so no stale part file stays next to the new ones. A file in their place
 * that skewless did not write stops the replay.
 */
export function clearOwnOutputs(out: string, ndjsonDirs: readonly string[]): void {
  for (const name of list(out)) {
    const dir = join(out, name);
    if (!isDirectory(dir)) continue;
    for (const f of list(dir)) {
      const path = join(dir, f);
      if (PARTIAL_FILE.test(f)) rmSync(path, { force: true });
      else if (TRAINING_FILE.test(f)) {
        if (!isSkewlessParquet(path)) throw new Error(`${path} was not written by skewless and would be replaced: move it away, or write to another --out`);
        rmSync(path, { force: true });
      }
    }
  }
  for (const dir of ndjsonDirs) {
    for (const f of list(dir)) {
      const path = join(dir, f);
      if (!NDJSON_FILE.test(f)) continue;
      if (!isSkewlessNdjson(path)) throw new Error(`${path} was not written by skewless and would be replaced: move it away, or pass another directory`);
      rmSync(path, { force: true });
    }
  }
}

function refuseNonEmpty(dir: string, flag: string, fix: string): void {
  const entries = list(dir);
  if (entries.length === 0) return;
  throw new Error(`${flag} ${dir} is not empty (it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): ${fix}`);
}

function taskDirs(stateDir: string): string[] {
  return list(stateDir).filter((d) => TASK_DIR.test(d) && isDirectory(join(stateDir, d)));
}

function list(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (!isDirectory(dir)) throw new Error(`${dir} is not a directory`);
  return readdirSync(dir).sort();
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The training writer puts skewless.* keys into every footer it writes. */
function isSkewlessParquet(path: string): boolean {
  const size = statSync(path).size;
  if (size < 12) return false;
  const tail = readAt(path, size - 8, 8);
  const footerLength = tail.readUInt32LE(0);
  if (tail.subarray(4).toString('latin1') !== 'PAR1' || footerLength > size - 12) return false;
  return readAt(path, size - 8 - footerLength, footerLength).includes('skewless.version');
}

/** Dead-letter and late-record files: empty, or a first line that is a skewless record. */
function isSkewlessNdjson(path: string): boolean {
  const head = readAt(path, 0, 64 * 1024).toString('utf8');
  if (head === '') return true;
  const nl = head.indexOf('\n');
  try {
    const first = JSON.parse(nl === -1 ? head : head.slice(0, nl)) as Record<string, unknown>;
    return typeof first === 'object' && first !== null && 'source' in first && 'partition' in first && 'offset' in first;
  } catch {
    return false;
  }
}

function readAt(path: string, position: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, position);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
