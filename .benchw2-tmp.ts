import { createTrainingWriter, type ColumnSpec } from './src/io/files/parquet-training-writer.js';
import { statSync } from 'node:fs';
const N = 3_000_000;
const columns: ColumnSpec[] = [
  { name: 'key', type: 'string', nullable: false },
  { name: 'event_time', type: 'timestamp-ms', nullable: false },
  { name: 'partition', type: 'int32', nullable: false },
  { name: 'offset', type: 'int64', nullable: false },
  ...Array.from({ length: 7 }, (_, j) => ({ name: `f${j}`, type: 'double' as const, nullable: j % 2 === 1 })),
  { name: 'cnt', type: 'int64', nullable: true },
  { name: 'label', type: 'boolean', nullable: true },
  { name: '_version', type: 'string', nullable: false },
];
const w = createTrainingWriter({ path: '/tmp/skewless-bench/train.parquet', columns });
const c0 = process.cpuUsage(); const t0 = performance.now();
const B = 4096;
let seed = 1; const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
for (let s = 0; s < N; s += B) {
  const n = Math.min(B, N - s);
  const cols: Record<string, unknown[]> = {};
  for (const c of columns) cols[c.name] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = s + i;
    cols.key[i] = 'user-' + (r % 50000);
    cols.event_time[i] = 1.6e12 + r * 1000;
    cols.partition[i] = r % 12;
    cols.offset[i] = Math.floor(r / 12);
    for (let j = 0; j < 7; j++) cols[`f${j}`][i] = j % 2 === 1 && r % 10 === 0 ? null : rnd() * 100;
    cols.cnt[i] = r % 7 === 0 ? null : r % 1000;
    cols.label[i] = r % 3 === 0 ? null : r % 2 === 0;
    cols._version[i] = 'v1-abcdef';
  }
  if (!process.env.NOAPPEND) w.appendColumns(cols, n);
}
const t1 = performance.now();
const summary = w.close({ 'skewless.version': 'v1' });
const cpu = process.cpuUsage(c0);
console.log(summary, 'append+encode', (t1 - t0).toFixed(0), 'ms total', (performance.now() - t0).toFixed(0), 'ms cpu', ((cpu.user + cpu.system) / 1000).toFixed(0), 'size', statSync(summary.path).size);
