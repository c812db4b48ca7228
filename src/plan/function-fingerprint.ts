import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { UserFn } from '../dsl/nodes.js';

/**
 * A fingerprint of a user function's code that ignores formatting and comments: the source
 * is reprinted by esbuild without whitespace and comments. Identifiers are kept as written
 * (esbuild's identifier minifier picks names from character frequencies, which made the
 * fingerprint depend on names in a way nobody could predict), so renaming a parameter is a
 * code change and changes the version. What it cannot see is captured closure state, which
 * is why topology functions must be pure functions of their arguments.
 */
const NORMALIZE = { minifyWhitespace: true, minifySyntax: true, loader: 'ts', format: 'esm' } as const;

/**
 * Normalized source by source text. Each esbuild call is a round trip to its service process;
 * a replay thread compiling the plan its coordinator compiled is seeded with the coordinator's
 * entries (seedNormalizedSources) instead of making them all again (~0.2 s of each thread's start).
 */
const normalized = new Map<string, string>();

/**
 * esbuild, loaded at the first source that is not normalized yet: a replay thread seeded with
 * its coordinator's entries never needs it, and loading it cost each thread about 30 ms of its start.
 */
let esbuild: typeof import('esbuild') | undefined;
const transformSync: typeof import('esbuild').transformSync = (input, options) => {
  esbuild ??= createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  return esbuild.transformSync(input, options);
};

export function normalizedFunctionSource(fn: UserFn): string {
  const src = fn.toString();
  const known = normalized.get(src);
  if (known !== undefined) return known;
  let out: string;
  try {
    out = transformSync(`export default (${src});`, NORMALIZE).code.trim();
  } catch {
    // Method shorthand (`key(v) { ... }`) is not an expression: wrap it in an object literal.
    out = transformSync(`export default ({${src}});`, NORMALIZE).code.trim();
  }
  normalized.set(src, out);
  return out;
}

/** Every normalized source of this thread so far, as [source text, normalized] pairs (plain data for another thread). */
export function normalizedSources(): Array<[string, string]> {
  return [...normalized];
}

/** Take another thread's normalizedSources(): the same esbuild normalizes the same text alike. */
export function seedNormalizedSources(entries: ReadonlyArray<readonly [string, string]>): void {
  for (const [src, out] of entries) normalized.set(src, out);
}

export function functionFingerprint(fn: UserFn): string {
  return createHash('sha256').update(normalizedFunctionSource(fn)).digest('hex').slice(0, 16);
}
