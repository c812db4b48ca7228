import { ZSTDDecoder } from 'zstddec';

/**
 * ZSTD pages through zstd's own decoder compiled to WebAssembly (zstddec): about 2.5 times as
 * fast as the JavaScript port hyparquet-compressors uses, which is the reference every page
 * falls back to (before zstdReady() settles, or when the WebAssembly decoder fails on a page).
 * Decompression is lossless, so both give the same bytes for every valid page.
 */
let decoder: ZSTDDecoder | undefined;
let ready: Promise<void> | undefined;

/** Pages larger than this go to the JavaScript decoder: the WebAssembly heap is grown per page. */
const MAX_PAGE = 64 * 2 ** 20;

/** Load the WebAssembly decoder once per thread; never rejects (pages then use the reference). */
export function zstdReady(): Promise<void> {
  ready ??= (async () => {
    try {
      const d = new ZSTDDecoder();
      await withoutFetch(() => d.init());
      decoder = d;
    } catch {
      decoder = undefined;
    }
  })();
  return ready;
}

/**
 * `start()` with no global fetch while it runs: zstddec loads its WebAssembly through
 * `fetch('data:…')` when fetch exists, and Node 20's first fetch loads undici, 50–130 ms of the
 * thread that starts a replay before it reads anything. Without fetch, zstddec instantiates the
 * same bytes from a Buffer. Its init decides synchronously, so fetch is back before anything else
 * runs.
 */
function withoutFetch<T>(start: () => T): T {
  const fetch = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  if (fetch === undefined || !fetch.configurable) return start();
  Object.defineProperty(globalThis, 'fetch', { value: undefined, configurable: true, writable: true, enumerable: fetch.enumerable });
  try {
    return start();
  } finally {
    Object.defineProperty(globalThis, 'fetch', fetch);
  }
}

/** The page decompressed to `length` bytes, or undefined when the reference decoder should do it. */
export function decompressZstd(input: Uint8Array, length: number): Uint8Array | undefined {
  if (decoder === undefined || length > MAX_PAGE || length <= 0) return undefined;
  try {
    const out = decoder.decode(input, length);
    // A damaged frame gives a short (or empty) result: the reference then says what is wrong.
    return out.length === length ? out : undefined;
  } catch {
    return undefined;
  }
}
