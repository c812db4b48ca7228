/**
 * ZSTD pages through the WebAssembly decoder (src/io/files/zstd-pages.ts) against the
 * JavaScript reference hyparquet-compressors uses, on frames pyarrow's zstd writes: the same
 * bytes, and undefined (the reference then decides) for a truncated frame, a wrong length, or
 * before the decoder is loaded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { compressors } from 'hyparquet-compressors';
import { decompressZstd, zstdReady } from '../../src/io/files/zstd-pages.js';

const INSTALL_HINT = 'run `pip install -r requirements.txt` (CI installs it)';

/** A zstd frame of `data`, written by pyarrow (libzstd). */
function zstdFrame(data: Buffer): Buffer {
  const script = 'import sys, pyarrow as pa; sys.stdout.buffer.write(pa.Codec("zstd").compress(sys.stdin.buffer.read(), asbytes=True))';
  const r = spawnSync('python3', ['-c', script], { input: data });
  if (r.error) assert.fail(`cannot run python3 (${r.error.message}): ${INSTALL_HINT}`);
  if (r.status !== 0) assert.fail(`pyarrow could not compress (${r.stderr.toString().trim()}): ${INSTALL_HINT}`);
  return r.stdout;
}

test('WebAssembly zstd gives the reference bytes for valid pages, and leaves damaged ones to the reference', async () => {
  // Text-like and random-like content, small and over a zstd block (128 KiB).
  let x = 12345;
  const noise = Buffer.from(Array.from({ length: 300_000 }, () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24)));
  const text = Buffer.from('origin,destination,delay\n'.repeat(20_000) + 'SFO,LAX,12\n'.repeat(5_000));
  assert.equal(decompressZstd(zstdFrame(Buffer.alloc(0)), 0), undefined, 'an empty page is left to the reference');
  for (const data of [text, noise, text.subarray(0, 1000)]) {
    const frame = zstdFrame(data);
    const reference = (compressors as Record<string, (i: Uint8Array, n: number) => Uint8Array>).ZSTD(frame, data.length);
    assert.deepEqual(Buffer.from(reference), data, 'the reference decodes pyarrow frames');
    if (data === text) assert.equal(decompressZstd(frame, data.length), undefined, 'before the decoder is loaded: the reference');
    await zstdReady();
    const out = decompressZstd(frame, data.length);
    assert.ok(out !== undefined, 'decoded by WebAssembly');
    assert.deepEqual(Buffer.from(out), data);
    assert.equal(decompressZstd(frame.subarray(0, frame.length >> 1), data.length), undefined, 'truncated frame');
    assert.equal(decompressZstd(frame, data.length + 1), undefined, 'a header length the frame does not fill');
  }
});

test('loading the WebAssembly decoder does not load fetch (undici) and leaves fetch in place', () => {
  // A fresh process: this one may have loaded undici already.
  const script = `
    const { zstdReady, decompressZstd } = await import(${JSON.stringify(new URL('../../src/io/files/zstd-pages.ts', import.meta.url).href)});
    const before = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
    await zstdReady();
    const after = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
    // A zstd frame of 'ok' written by libzstd (raw block).
    const frame = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x02, 0x11, 0x00, 0x00, 0x6f, 0x6b]);
    const out = decompressZstd(frame, 2);
    console.log(JSON.stringify({
      undici: process.moduleLoadList.some((m) => m.includes('undici')),
      same: before.value === after.value && before.writable === after.writable && before.enumerable === after.enumerable && before.configurable === after.configurable,
      decoded: out === undefined ? null : Buffer.from(out).toString(),
    }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { undici: false, same: true, decoded: 'ok' });
});
