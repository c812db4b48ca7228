/**
 * A checkpoint too large for one write (a replay's last one covers every key it met: 3.6 million
 * entries for flight-delays with keys a thousand times finer, which one LevelDB batch held twice
 * over, as operations and as LevelDB's copy) goes out in writes of a bounded size, the checkpoint
 * record in the last; a store whose writer stopped between two of them is refused at open.
 * The reference for what a checkpoint must store is the same checkpoint written as one batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { PartialCheckpointError, Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { LevelBackend } from '../../src/state/state-backend.js';
import { metaKey, partialCheckpointKey } from '../../src/state/task-state-keys.js';
import { collectingSinks } from '../helpers/engine.js';
import { RecordingBackend } from '../helpers/recording-backend.js';

const HERE = fileURLToPath(import.meta.url);
const T0 = Date.UTC(2025, 0, 1);
const KEYS = 3000;

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-chunked-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function program(): Program {
  const topo = topology('chunked', (b) => {
    const txns = b.source<{ card: string; at: number; v: number }>('txns', {
      schema: '../../schemas/card_transaction.avsc',
      key: (x) => x.card,
      eventTime: (x) => x.at,
      grace: '1h',
    });
    const card = txns.groupBy('card', (x) => x.card);
    txns.features('f', { n: card.lookback('1h').count(), sum: card.lookback('1h').sum((x) => x.v) });
    card.tumbling('1h', { emit: 'final' }).aggregate('hourly', (w) => ({ n: w.count() }));
    return {};
  });
  return buildProgram(compilePlan(topo, HERE));
}

/** Two events for each of KEYS cards, in time order: every key has a timeline and an open window. */
function records(): InputRecord[] {
  const out: InputRecord[] = [];
  for (let i = 0; i < 2 * KEYS; i++) out.push({ offset: i, value: { card: `card-${i % KEYS}`, at: T0 + i * 100, v: i % 97 } });
  return out;
}

async function contents(dir: string): Promise<string[]> {
  const b = await LevelBackend.open(dir);
  try {
    return (await b.scan('p0/')).map(([k, v]) => `${k}=${Buffer.from(v).toString('hex')}`);
  } finally {
    await b.close();
  }
}

async function checkpointed(dir: string, writeOps: number, failAt = Infinity): Promise<RecordingBackend> {
  const backend = new RecordingBackend(await LevelBackend.open(dir), failAt);
  try {
    const task = await Task.open(program(), 0, backend, collectingSinks().sinks);
    await task.process({ source: 'txns', partition: 0, records: records() });
    await task.checkpoint(writeOps);
  } finally {
    await backend.close();
  }
  return backend;
}

test('a checkpoint larger than a write goes out in bounded writes, the checkpoint record last, and stores what one batch stores', async (t) => {
  const whole = tmp(t);
  const chunked = tmp(t);
  const one = await checkpointed(whole, Infinity);
  const many = await checkpointed(chunked, 500);

  // Per key: a timeline segment and head, its window and its window's close index entry: 4 entries; plus the plan and meta.
  assert.equal(one.writes.length, 1);
  assert.equal(one.writes[0].length, 4 * KEYS + 2);
  assert.ok(many.writes.length >= (3 * KEYS) / 502, `${many.writes.length} writes`);
  for (const [i, w] of many.writes.entries()) assert.ok(w.length <= 500 + 2, `write ${i} holds ${w.length} operations`);
  const partial = partialCheckpointKey(0);
  assert.ok(many.writes[0].includes(`put ${partial}`), 'the first write marks the store');
  assert.equal(many.writes.at(-1)!.at(-1), `put ${metaKey(0)}`, 'the checkpoint record is the last operation of the last write');
  assert.ok(many.writes.at(-1)!.includes(`del ${partial}`), 'the last write clears the mark');
  for (const w of many.writes.slice(0, -1)) assert.ok(!w.includes(`put ${metaKey(0)}`), 'no checkpoint record before the last write');

  const expected = await contents(whole);
  assert.equal(expected.length, 4 * KEYS + 2);
  assert.deepEqual(await contents(chunked), expected);

  // And it opens where the records end.
  const b = await LevelBackend.open(chunked);
  try {
    const task = await Task.open(program(), 0, b, collectingSinks().sinks);
    assert.deepEqual(task.resumePositions(), { txns: 2 * KEYS });
  } finally {
    await b.close();
  }
});

test('a store whose chunked checkpoint stopped part way is refused at open, saying what to do', async (t) => {
  const dir = tmp(t);
  await assert.rejects(checkpointed(dir, 500, 3), /the disk went away/);
  const b = await LevelBackend.open(dir);
  try {
    // Two writes landed: entries of the new checkpoint without its record.
    assert.ok((await b.scan('p0/t/')).length > 0);
    assert.equal((await b.getMany([metaKey(0)]))[0], undefined);
    await assert.rejects(Task.open(program(), 0, b, collectingSinks().sinks), (e: unknown) => {
      assert.ok(e instanceof PartialCheckpointError);
      assert.match(e.message, /partition 0 .*checkpoint whose writing stopped part way.*Remove the state directory and run the command that wrote it \(backfill, bootstrap or parity\) again/);
      return true;
    });
  } finally {
    await b.close();
  }
});

test('a task opened from a checkpoint writes its next one in one batch, however large: a state continued run after run stays one to continue from', async (t) => {
  const dir = tmp(t);
  const first = new RecordingBackend(await LevelBackend.open(dir));
  try {
    const task = await Task.open(program(), 0, first, collectingSinks().sinks);
    await task.process({ source: 'txns', partition: 0, records: records().slice(0, 10) });
    await task.checkpoint();
  } finally {
    await first.close();
  }
  const again = new RecordingBackend(await LevelBackend.open(dir));
  try {
    const task = await Task.open(program(), 0, again, collectingSinks().sinks);
    await task.process({ source: 'txns', partition: 0, records: records() });
    await task.checkpoint();
    assert.equal(again.writes.length, 1);
    assert.ok(again.writes[0].length > 3 * (KEYS - 10), `${again.writes[0].length} operations in one write`);
    assert.ok(!again.writes[0].includes(`put ${partialCheckpointKey(0)}`));
  } finally {
    await again.close();
  }
});

test('only the first checkpoint of a store is written in several batches: the next is one, so a kill leaves the first to continue from', async (t) => {
  const dir = tmp(t);
  const backend = new RecordingBackend(await LevelBackend.open(dir));
  try {
    const task = await Task.open(program(), 0, backend, collectingSinks().sinks);
    const all = records();
    await task.process({ source: 'txns', partition: 0, records: all.slice(0, KEYS) });
    await task.checkpoint();
    const first = backend.writes.length;
    assert.ok(first > 1, `the first checkpoint (${3 * KEYS} operations) in ${first} writes`);
    await task.process({ source: 'txns', partition: 0, records: all.slice(KEYS) });
    await task.checkpoint();
    assert.equal(backend.writes.length, first + 1, 'the second checkpoint in one write');
    assert.ok(backend.writes[first].length > 2 * KEYS);
  } finally {
    await backend.close();
  }
});
