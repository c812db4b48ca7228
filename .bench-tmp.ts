import { readParquetRecords } from './src/io/files/parquet-reader.js';
const c0 = process.cpuUsage(); const t0 = performance.now();
let n = 0, errs = 0, first: unknown;
for await (const batch of readParquetRecords(process.argv[2])) {
  n += batch.length;
  if (!first) first = batch[0];
  for (const r of batch) if (r.error) errs++;
}
const cpu = process.cpuUsage(c0); console.log('cpu', ((cpu.user+cpu.system)/1000).toFixed(0), 'ms'); console.log(n, errs, JSON.stringify(first), (performance.now() - t0).toFixed(0), 'ms', (process.memoryUsage().rss/1e6).toFixed(0),'MB rss');
