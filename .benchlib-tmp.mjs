import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
const N = 131072, G = 23;
const schema = [{ name: 'root', num_children: 6 },
 { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
 { name: 'ts', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' }, repetition_type: 'REQUIRED' },
 { name: 'off', type: 'INT64', repetition_type: 'REQUIRED' },
 { name: 'f', type: 'DOUBLE', repetition_type: 'REQUIRED' },
 { name: 'fn', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
 { name: 'ver', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
];
let seed = 1; const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const key = Array.from({length:N}, (_, i) => 'user-' + (i*7919 % 50000));
const ts = BigInt64Array.from({length:N}, (_, i) => BigInt(1.6e12 + i * 1000));
const off = BigInt64Array.from({length:N}, (_, i) => BigInt(i));
const f = Float64Array.from({length:N}, () => rnd()*100);
const fn = Array.from({length:N}, (_, i) => i % 10 ? rnd()*100 : null);
const ver = Array(N).fill('v1-abc');
const data = { key, ts, off, f, fn, ver };
const cfg = JSON.parse(process.argv[2] ?? '{}');
for (const col of (cfg.cols ?? Object.keys(data))) {
  const w = new ParquetWriter({ writer: new ByteWriter(), schema: [ {name:'root', num_children:1}, schema.find(s=>s.name===col) ], codec: cfg.codec ?? 'SNAPPY', statistics: cfg.stats ?? true });
  const c0 = process.cpuUsage();
  for (let g = 0; g < G; g++) w.write({ columnData: [{ name: col, data: data[col], encoding: cfg.enc?.[col], offsetIndex: cfg.oi ?? true }], rowGroupSize: N, pageSize: cfg.pageSize });
  const c = process.cpuUsage(c0); console.log(col.padEnd(4), ((c.user + c.system)/1000).toFixed(0).padStart(6), 'ms cpu for', N*G, 'rows', w.writer.offset, 'bytes');
}
function interned(strings) {
  let buf = Buffer.allocUnsafe(1 << 16); let pos = 0;
  const seen = new Map(); const out = new Array(strings.length);
  // two passes: first encode distinct, remember (start,len); then views over final buffer
  const spans = new Map();
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i]; if (s === null) { out[i] = null; continue }
    let sp = spans.get(s);
    if (sp === undefined) {
      const max = s.length * 3;
      if (pos + max > buf.length) { const nb = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + max)); buf.copy(nb, 0, 0, pos); buf = nb }
      const len = buf.write(s, pos, 'utf8'); sp = [pos, len]; pos += len; spans.set(s, sp);
    }
  }
  const views = new Map();
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i]; if (s === null) continue;
    let v = views.get(s);
    if (v === undefined) { const [a, l] = spans.get(s); v = new Uint8Array(buf.buffer, buf.byteOffset + a, l); views.set(s, v) }
    out[i] = v;
  }
  return out;
}
if (cfg.interned) {
  for (const col of ['key', 'ver']) {
    const w = new ParquetWriter({ writer: new ByteWriter(), schema: [ {name:'root', num_children:1}, schema.find(s=>s.name===col) ], codec: cfg.codec ?? 'SNAPPY', statistics: cfg.stats ?? true });
    const c0 = process.cpuUsage();
    for (let g = 0; g < G; g++) w.write({ columnData: [{ name: col, data: interned(data[col]) }], rowGroupSize: N });
    const c = process.cpuUsage(c0); console.log('interned', col.padEnd(4), ((c.user + c.system)/1000).toFixed(0).padStart(6), 'ms cpu', w.writer.offset, 'bytes');
  }
}
