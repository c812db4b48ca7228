import { parquetRead, parquetMetadata } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { readFileSync } from 'node:fs'
const t0 = performance.now()
const buf = readFileSync(process.argv[2])
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
const file = { byteLength: ab.byteLength, slice: (s, e) => ab.slice(s, e) }
const metadata = parquetMetadata(ab)
const parsers = { timestampFromMicroseconds: (u) => Number(u / 1000n) }
let start = 0, total = 0
for (const rg of metadata.row_groups) {
  const n = Number(rg.num_rows)
  const cols = {}
  await parquetRead({ file, metadata, compressors, parsers, rowStart: start, rowEnd: start + n, onChunk: (c) => { (cols[c.columnName] ??= []).push(c) } })
  if (start === 0) for (const [k, v] of Object.entries(cols)) console.log(k, v.length, v[0].columnData.constructor.name, v[0].rowStart, v[0].rowEnd, typeof v[0].columnData[0], v[0].columnData[0])
  start += n; total += n
}
console.log(total, (performance.now() - t0).toFixed(0), 'ms')
