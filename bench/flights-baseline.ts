/**
 * The replay benchmark's baseline: one tight single-threaded loop that reads the same Parquet
 * file and computes flight-delays' 8 features per flight with typed arrays and running sums,
 * no framework: no state store, no checkpoints, no output encoding, no lateness or
 * dead-letter checks, naive (uncompensated) sums, events taken in file order per airport. It
 * is what the hardware gives for the same arithmetic, so skewless / baseline says how much the
 * framework costs. The values are not compared with skewless (they are not meant to be
 * identical: no compensation, no out-of-order handling); a checksum keeps the work from being
 * optimised away.
 */
import { open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parquetMetadataAsync, parquetRead, type AsyncBuffer } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const H = 3_600_000;
const D = 24 * H;
const W7 = 7 * D;

async function fileBuffer(path: string): Promise<AsyncBuffer & { close(): Promise<void> }> {
  const fh = await open(path);
  const { size } = await fh.stat();
  return {
    close: () => fh.close(),
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const len = (end ?? size) - start;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, start);
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + len);
    },
  };
}

const toMs = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.getTime() : Number(v));

/** A growable Int32 list. */
class IntList {
  a = new Int32Array(64);
  n = 0;
  push(x: number): void {
    if (this.n === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
}

export interface BaselineResult {
  readonly events: number;
  readonly seconds: number;
  /** Of `seconds`, the loop over the flights (the read left out). */
  readonly computeSeconds: number;
  readonly checksum: number;
}

export async function flightsBaseline(path: string): Promise<BaselineResult> {
  const t0 = performance.now();
  const file = await fileBuffer(path);
  const metadata = await parquetMetadataAsync(file);
  const n = Number(metadata.num_rows);
  const time = new Float64Array(n);
  const delay = new Float64Array(n);
  const originId = new Int32Array(n);
  const destId = new Int32Array(n);
  const originIds = new Map<string, number>();
  const destIds = new Map<string, number>();
  const idOf = (m: Map<string, number>, s: string): number => {
    let id = m.get(s);
    if (id === undefined) m.set(s, (id = m.size));
    return id;
  };
  try {
    await parquetRead({
      file,
      metadata,
      compressors,
      columns: ['date', 'delay', 'origin', 'destination'],
      onChunk: ({ columnName, columnData, rowStart }) => {
        for (let i = 0; i < columnData.length; i++) {
          const r = rowStart + i;
          const v = columnData[i];
          if (columnName === 'date') time[r] = toMs(v);
          else if (columnName === 'delay') delay[r] = Number(v);
          else if (columnName === 'origin') originId[r] = idOf(originIds, String(v));
          else destId[r] = idOf(destIds, String(v));
        }
      },
    });
  } finally {
    await file.close();
  }

  const tRead = performance.now();
  const origins = originIds.size;
  const dests = destIds.size;
  // Per origin: its events in order, a head per window, running sums, a max deque, distinct counts.
  const events = Array.from({ length: origins }, () => new IntList());
  const head1h = new Int32Array(origins);
  const head24 = new Int32Array(origins);
  const head7 = new Int32Array(origins);
  const sum1h = new Float64Array(origins);
  const sum24 = new Float64Array(origins);
  const sum7 = new Float64Array(origins);
  const sq7 = new Float64Array(origins);
  const maxq = Array.from({ length: origins }, () => new IntList());
  const maxHead = new Int32Array(origins);
  const destCount = new Int32Array(origins * dests);
  const distinct = new Int32Array(origins);
  const last = new Float64Array(origins).fill(Number.NaN);
  // Per route (origin × destination): its events in the last 7 days.
  const routeEvents = new Map<number, IntList>();
  const routeHead = new Map<number, number>();
  const routeSum = new Map<number, number>();
  const out = new Float64Array(8);
  let checksum = 0;

  for (let i = 0; i < n; i++) {
    const o = originId[i];
    const t = time[i];
    const list = events[o];
    const ev = list.a;
    // Evict what left each window (t − W, t].
    let h = head1h[o];
    while (h < list.n && time[ev[h]] <= t - H) sum1h[o] -= delay[ev[h++]];
    const c1 = list.n - h;
    head1h[o] = h;
    h = head24[o];
    while (h < list.n && time[ev[h]] <= t - D) {
      const e = ev[h++];
      sum24[o] -= delay[e];
      if (--destCount[o * dests + destId[e]] === 0) distinct[o]--;
    }
    const c24 = list.n - h;
    head24[o] = h;
    h = head7[o];
    while (h < list.n && time[ev[h]] <= t - W7) {
      const e = ev[h++];
      sum7[o] -= delay[e];
      sq7[o] -= delay[e] * delay[e];
    }
    const c7 = list.n - h;
    head7[o] = h;
    const q = maxq[o];
    let mh = maxHead[o];
    while (mh < q.n && time[q.a[mh]] <= t - D) mh++;
    maxHead[o] = mh;
    const route = o * dests + destId[i];
    let rl = routeEvents.get(route);
    if (rl === undefined) {
      routeEvents.set(route, (rl = new IntList()));
      routeHead.set(route, 0);
      routeSum.set(route, 0);
    }
    let rh = routeHead.get(route)!;
    let rs = routeSum.get(route)!;
    while (rh < rl.n && time[rl.a[rh]] <= t - W7) rs -= delay[rl.a[rh++]];

    // The vector before this flight.
    out[0] = c1;
    out[1] = c1 > 0 ? sum1h[o] / c1 : Number.NaN;
    out[2] = c24 > 0 ? sum24[o] / c24 : Number.NaN;
    out[3] = mh < q.n ? delay[q.a[mh]] : Number.NaN;
    out[4] = distinct[o];
    out[5] = c7 > 1 ? Math.sqrt(Math.max(0, (sq7[o] - (sum7[o] * sum7[o]) / c7) / (c7 - 1))) : Number.NaN;
    out[6] = Number.isNaN(last[o]) ? Number.NaN : (t - last[o]) / 60_000;
    out[7] = rl.n - rh > 0 ? rs / (rl.n - rh) : Number.NaN;
    checksum += out[0] + (out[2] === out[2] ? out[2] : 0) + out[4];

    // Apply it.
    const d = delay[i];
    list.push(i);
    sum1h[o] += d;
    sum24[o] += d;
    sum7[o] += d;
    sq7[o] += d * d;
    if (destCount[o * dests + destId[i]]++ === 0) distinct[o]++;
    while (q.n > mh && delay[q.a[q.n - 1]] <= d) q.n--;
    q.push(i);
    last[o] = t;
    rl.push(i);
    rs += d;
    routeHead.set(route, rh);
    routeSum.set(route, rs);
  }
  const t1 = performance.now();
  return { events: n, seconds: (t1 - t0) / 1000, computeSeconds: (t1 - tRead) / 1000, checksum };
}

// Run alone (`node --import tsx bench/flights-baseline.ts FILE`), it prints its result as JSON:
// the replay benchmark runs it in a process of its own, so its memory stays out of skewless' peak RSS.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${JSON.stringify(await flightsBaseline(process.argv[2]))}\n`);
}
