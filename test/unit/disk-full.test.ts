/**
 * Files skewless writes outside the state store, when their disk fills up (the state store's
 * case is test/integration/live-disk-full.test.ts). All of them live on a small tmpfs of their
 * own (mounting needs root or CAP_SYS_ADMIN; skipped, saying so, where it cannot mount).
 *
 * A backfill fails with one line naming the training file, that the disk is full and what to
 * do, and leaves no partial file behind, with one replay thread or two (before: "ENOSPC: no
 * space left on device, write", no file named, and the partial files of every writer not yet
 * closed left in the output directory), and closes every file it opened (before, the input's
 * handle stayed open until the garbage collector found it; and a regrouping replay's pass 2 left
 * its other answer files and the kept state store open, the store's lock held). The parity file of `skewless run --parity-file` keeps
 * whole lines: an append cut short is cut off again (before, the torn line and the retried
 * batch's first line made one line the reader could not parse).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { TrainingSink } from '../../src/modes/training-sink.js';
import { SpillWriter } from '../../src/modes/spill-file.js';
import { replayPartitions } from '../../src/modes/replay-partitions.js';
import { answerRegroupPartitions } from '../../src/modes/replay-regrouped.js';
import { Rng } from '../helpers/prng.js';
import { LevelBackend } from '../../src/state/state-backend.js';
import { taskStateDir } from '../../src/state/task-state-dir.js';
import { ParityFileWriter, readParityFile } from '../../src/parity/parity-log.js';
import { loadTopology } from '../../src/plan/load-topology.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'skewless-out-full-'));
const disk = join(dir, 'disk');
mkdirSync(disk);
let cannotMount: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk], { stdio: 'pipe' });
} catch (e) {
  cannotMount = `cannot mount a tmpfs for the output (needs root or CAP_SYS_ADMIN): ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
}

test.after(() => {
  if (cannotMount === undefined) execFileSync('umount', ['-l', disk]);
  rmSync(dir, { recursive: true, force: true });
});

/** The paths this process has open, sorted (descriptors of sockets, pipes and the like left out). */
function openFds(): string[] {
  const paths: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('/')) paths.push(target);
    } catch {
      // The descriptor readdir itself used, closed by now.
    }
  }
  return paths.sort();
}

/** Every file under `root`, as paths relative to it. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(root, f)).isFile());
}

for (const workers of [1, 2]) {
  test(`a backfill into a disk that fills up names the file and the full disk, and leaves no partial file (${workers} thread${workers > 1 ? 's' : ''})`, { skip: cannotMount ?? false }, async () => {
    const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
    const out = join(disk, `out-${workers}`);
    // 3,000,000 flights make about 100 MB of training data: 4 MB fill up within the first row groups.
    const fdsBefore = openFds();
    const run = replayFiles({ plan, inputs: { flights: join(ROOT, 'node_modules/vega-datasets/data/flights-3m.parquet') }, out, partitions: 8, workers });
    await assert.rejects(run, (e: Error) => {
      assert.match(e.message, /^cannot write training file \/\S+\/flight_features\/part-\d{5}\.parquet: the disk is full \(ENOSPC: no space left on device, write\)\. Free space on the disk that holds it, then run the replay again \(nothing was published for this file\)$/);
      return true;
    });
    const left = filesUnder(out);
    assert.deepEqual(left.filter((f) => f.endsWith('.partial')), [], `partial files left: ${left.join(', ')}`);
    // Every file the replay opened is closed (before, the input file's handle stayed open until
    // the garbage collector found it, with Node's DEP0137 warning).
    assert.deepEqual(openFds(), fdsBefore, 'descriptors still open after the failed replay');
    // The space is back for the next case.
    rmSync(out, { recursive: true, force: true });
  });
}

test('training files that cannot be written when a replay closes them leave no partial file either', { skip: cannotMount ?? false }, async () => {
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const program = buildProgram(plan);
  const output = program.outputs[0];
  const out = join(disk, 'out-close');
  const sink = new TrainingSink(out, program, () => ({}), new Map());
  // 5,000 rows in each of three partitions, less than a row group: buffered, so nothing but each file's header is written before close.
  // Values that do not repeat, so the files take some pages (constant ones would encode to a few bytes).
  for (const partition of [0, 3, 5]) {
    for (let offset = 0; offset < 5000; offset++) {
      const values = output.columns.map((c, i) => (c.type === 'boolean' ? offset % 2 : c.type === 'double' ? offset * 1.5 + i : offset + i));
      sink.feature({ output: output.name, source: 'flights', partition, offset, key: 'SFO', eventTime: 978336000000 + offset * 1000, values, event: {} });
    }
  }
  const filler = join(disk, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'pipe' });
  } catch {
    // dd stops at "No space left on device": the disk is full.
  }
  try {
    assert.throws(() => sink.close(), /^TrainingWriteError: cannot write training file \/\S+\/part-00000\.parquet: the disk is full/);
    assert.deepEqual(filesUnder(out), [], 'no partial file of the three is left');
  } finally {
    rmSync(filler);
  }
});

/** Write zeros to `file` until the disk is full. */
function fillDisk(file: string): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=4k'], { stdio: 'pipe' });
  } catch {
    // dd stops at "No space left on device": the disk is full.
  }
}

test('a parity file append that the disk cuts short leaves the file as it was, and the retried batch reads back whole', { skip: cannotMount ?? false }, () => {
  const path = join(disk, 'parity', 'log.ndjson');
  const writer = new ParityFileWriter(path);
  const record = (offset: number): string =>
    ParityFileWriter.line({ topic: 'tx', partition: 0, offset, event_time: 1_700_000_000_000 + offset, version: 'v1', key: `card-${offset}`, output: 'f', values: JSON.stringify({ n: offset, pad: 'x'.repeat(200) }), merge_skips: 0, idle_releases: 0 });
  // One batch written, then a disk full but for the rest of the file's last page.
  writer.append([0, 1, 2].map(record));
  const before = readFileSync(path);
  const filler = join(disk, 'filler');
  fillDisk(filler);
  try {
    // 40 lines of about 300 bytes: more than the page has left, so the write is cut short.
    const batch = Array.from({ length: 40 }, (_, i) => record(3 + i));
    assert.throws(() => writer.append(batch), /^Error: cannot write parity file \S+: the disk is full \(ENOSPC: no space left on device, write\)\. Free space on the disk that holds it, and the batch is retried by itself$/);
    assert.deepEqual(readFileSync(path), before, 'the file holds the first batch only, no torn line');
    rmSync(filler);
    writer.append(batch);
    const read = readParityFile(path);
    assert.equal(read.undecodable, 0, read.errors.join('; '));
    assert.deepEqual(read.entries.map((e) => e.offset), Array.from({ length: 43 }, (_, i) => i));
  } finally {
    rmSync(filler, { force: true });
  }
});

test('dead letters and a regrouping replay\'s spill that meet a full disk name their file and what to do', { skip: cannotMount ?? false }, async () => {
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  // 2,000 lines that are not JSON: every one a dead letter, the training data empty.
  const input = join(dir, 'bad.ndjson');
  writeFileSync(input, Array.from({ length: 2000 }, (_, i) => `not json ${i} ${'x'.repeat(100)}`).join('\n'));
  const deadLetterDir = join(disk, 'dead');
  const filler = join(disk, 'filler');
  fillDisk(filler);
  try {
    const stateDir = join(dir, 'state-dead');
    await assert.rejects(replayFiles({ plan, inputs: { flights: input }, out: join(dir, 'out-dead'), deadLetterDir, stateDir, partitions: 1, workers: 1 }), (e: Error) => {
      assert.match(e.message, /^cannot write side output file \S+\/dead\/part-00000\.ndjson: the disk is full \(ENOSPC: no space left on device, write\)\. Free space on the disk that holds it, then run the replay again$/);
      return true;
    });
    // The task's state store was closed although the dead letters could not be: a store left open
    // would hold its lock for the rest of the process (before, the failed flush skipped every close after it).
    const store = await LevelBackend.open(taskStateDir(stateDir, 0));
    await store.close();
    const spill = new SpillWriter(join(disk, 'spill'));
    spill.write(new Uint8Array(64 * 1024));
    assert.throws(() => spill.close(), /^Error: cannot write spill file \S+\/spill: the disk is full \(ENOSPC: no space left on device, write\)\. Free space on the disk that holds it, then run the replay again \(or point the spill elsewhere with TMPDIR\)$/);
  } finally {
    rmSync(filler, { force: true });
  }
});

test("a regrouping replay's pass 2 whose answers meet a full disk closes every spill file and the kept state stores", { skip: cannotMount ?? false }, async () => {
  const plan = await loadTopology(join(ROOT, 'topologies/flight-network.ts'));
  const partitions = 3;
  const airports = Array.from({ length: 30 }, (_, i) => `A${i}`);
  const rng = new Rng(11);
  const t0 = Date.UTC(2001, 0, 1);
  const flights = Array.from({ length: 4000 }, (_, i) => ({ date: t0 + i * 60_000, delay: rng.int(-20, 90), distance: 500, origin: rng.pick(airports), destination: rng.pick(airports) }));
  const file = join(dir, 'network.ndjson');
  writeFileSync(file, `${flights.map((f) => JSON.stringify(f)).join('\n')}\n`);
  const input = { kind: 'files' as const, inputs: { flights: file }, partitions };
  const spillDir = join(disk, 'regroup-spill');
  mkdirSync(spillDir);
  const stateDir = join(dir, 'state-regroup');
  // Pass 1 while there is room: its messages and partial rows are on the small disk.
  const origin = await replayPartitions({ plan, input, out: join(dir, 'out-regroup'), stateDir, regroup: { dir: spillDir, partitions } });
  assert.equal(origin.counters.processed, flights.length);
  const filler = join(disk, 'filler');
  fillDisk(filler);
  const fdsBefore = openFds();
  try {
    await assert.rejects(
      answerRegroupPartitions({ plan, input, out: join(dir, 'out-regroup'), spillDir, partitions, inputRanges: origin.inputRanges, stateDir }),
      /^Error: cannot write spill file \S+: the disk is full \(ENOSPC: no space left on device, write\)\. Free space on the disk that holds it, then run the replay again/,
    );
    assert.deepEqual(openFds(), fdsBefore, 'every answer file the failed pass opened is closed');
    // The kept regrouped state of the partition that failed: its store was closed too (one left open holds its lock for the rest of the process).
    for (let r = 0; r < partitions; r++) {
      const store = await LevelBackend.open(taskStateDir(stateDir, r));
      await store.close();
    }
  } finally {
    rmSync(filler, { force: true });
  }
});
