import { createHash } from 'node:crypto';
import { transformSync } from 'esbuild';
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

export function normalizedFunctionSource(fn: UserFn): string {
  const src = fn.toString();
  try {
    return transformSync(`export default (${src});`, NORMALIZE).code.trim();
  } catch {
    // Method shorthand (`key(v) { ... }`) is not an expression: wrap it in an object literal.
    return transformSync(`export default ({${src}});`, NORMALIZE).code.trim();
  }
}

export function functionFingerprint(fn: UserFn): string {
  return createHash('sha256').update(normalizedFunctionSource(fn)).digest('hex').slice(0, 16);
}
