import { createHash } from 'node:crypto';
import { transformSync } from 'esbuild';
import type { UserFn } from '../dsl/nodes.js';

/**
 * A fingerprint of a user function's code that ignores formatting, comments and local
 * names: the source is minified first. What it cannot see is captured closure state, which
 * is why topology functions must be pure functions of their arguments.
 */
export function normalizedFunctionSource(fn: UserFn): string {
  const src = fn.toString();
  try {
    return transformSync(`export default (${src});`, { minify: true, loader: 'ts', format: 'esm' }).code.trim();
  } catch {
    // Method shorthand (`key(v) { ... }`) is not an expression: wrap it in an object literal.
    return transformSync(`export default ({${src}});`, { minify: true, loader: 'ts', format: 'esm' }).code.trim();
  }
}

export function functionFingerprint(fn: UserFn): string {
  return createHash('sha256').update(normalizedFunctionSource(fn)).digest('hex').slice(0, 16);
}
